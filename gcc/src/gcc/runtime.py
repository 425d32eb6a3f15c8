"""The long-lived clients of one GCC process, built once and shared by requests or tasks."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field

from gcc.celery_app import celery_app
from gcc.health.heartbeats import HeartbeatRecorder
from gcc.releases.manifests import ManifestSigner, load_signer
from gcc.settings import Settings
from objectstore import ObjectStore, build_object_store
from servicekit.runtime import SendTask, ServiceRuntime, open_service_runtime
from timekeeping import Clock


@dataclass
class Runtime(ServiceRuntime[Settings]):
    """Settings, clock, database, the artifact bucket, the heartbeat batch writer, the
    manifest signer and the task sender of one process."""

    heartbeat_recorder: HeartbeatRecorder = field(init=False)
    manifest_signer: ManifestSigner | None = field(init=False)

    def __post_init__(self) -> None:
        # one per process, built with the engine: it batches the heartbeats that arrive together
        self.heartbeat_recorder = HeartbeatRecorder(self.engine)
        # read once: a key file that cannot be read stops the process as it starts
        self.manifest_signer = load_signer(self.settings)


def build_store(settings: Settings) -> ObjectStore:
    """The artifact bucket, as the settings describe it (not yet open)."""
    return build_object_store(
        "s3",
        bucket=settings.bucket_name,
        endpoint_url=settings.s3_endpoint_url,
        region=settings.s3_region,
        max_attempts=settings.s3_max_attempts,
    )


def open_runtime(
    settings: Settings, *, clock: Clock | None = None, send_task: SendTask | None = None
) -> AbstractAsyncContextManager[Runtime]:
    """Build the runtime; leaving the block closes every client."""
    store = build_store(settings)
    return open_service_runtime(Runtime, settings, store, celery_app, clock, send_task)
