"""Publishing real releases at the served GCC and delivering them to the backend, signed."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest

from customer_backend.runtime import Runtime, open_runtime
from customer_backend.settings import Settings
from gcc.settings import Settings as GccSettings
from signing import build_headers
from testsupport.backend_fixtures import (
    BACKEND_GCC_API_KEY,
    BACKEND_ORGANIZATION,
    BACKEND_WEBHOOK_SECRET,
)
from testsupport.gcc_fixtures import TaskRecorder
from timekeeping import ManualClock
from wrktalk_testing.s3 import TEST_CREDENTIALS


@dataclass
class GccRelease:
    """A release published at GCC, with the webhook body GCC offers for it."""

    version: str
    release_id: uuid.UUID
    chart: bytes
    sha256: str
    body: bytes

    @property
    def document(self) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(self.body)
        return document


Publisher = Callable[..., Awaitable[GccRelease]]
WebhookSender = Callable[..., Awaitable[httpx.Response]]


def helm_chart(version: str, filler: bytes = b"") -> bytes:
    """A packaged chart ``wrktalk/`` of ``version``; ``filler`` makes it larger."""
    files = {
        "wrktalk/Chart.yaml": f"apiVersion: v2\nname: wrktalk\nversion: {version}\n".encode(),
        "wrktalk/values.yaml": b"replicaCount: 1\n",
    }
    if filler:
        files["wrktalk/files/blob.bin"] = filler
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def s3_client(endpoint_url: str) -> Any:
    """A boto3 client on the moto endpoint."""
    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=TEST_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=TEST_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )


@pytest.fixture
def publish_release(
    gcc_client: httpx.AsyncClient,
    ci_headers: dict[str, str],
    backend_client: httpx.AsyncClient,
) -> Publisher:
    """Upload a chart, create and publish the release at GCC; the body GCC offers for it."""

    async def publish(
        version: str = "2.3.0", *, is_forced: bool = False, filler: bytes = b""
    ) -> GccRelease:
        chart = helm_chart(version, filler)
        uploaded = await gcc_client.post(
            "/api/internal/artifacts",
            files={"file": ("chart.tgz", chart)},
            data={"type": "helm", "version": version},
            headers=ci_headers,
        )
        assert uploaded.status_code == 200, uploaded.text
        created = await gcc_client.post(
            "/api/internal/releases",
            json={
                "version": version,
                "imageTags": {
                    "backend": "sha-b",
                    "media": "sha-m",
                    "controlTower": "sha-c",
                    "agent": "sha-a",
                },
                "isForced": is_forced,
                "releaseNotes": f"Notes of {version}",
            },
            headers=ci_headers,
        )
        assert created.status_code == 200, created.text
        published = await gcc_client.post(
            f"/api/internal/releases/{version}/publish", headers=ci_headers
        )
        assert published.status_code == 200, published.text
        updates = await gcc_client.get(
            f"/api/v1/organizations/{BACKEND_ORGANIZATION}/updates",
            headers={"Authorization": f"Bearer {BACKEND_GCC_API_KEY}"},
        )
        assert updates.status_code == 200, updates.text
        entry = next(
            entry for entry in updates.json()["releases"] if entry["release"]["version"] == version
        )
        return GccRelease(
            version=version,
            release_id=uuid.UUID(entry["release"]["id"]),
            chart=chart,
            sha256=hashlib.sha256(chart).hexdigest(),
            body=json.dumps(entry).encode(),
        )

    return publish


@pytest.fixture
def send_webhook(backend_client: httpx.AsyncClient, gcc_clock: ManualClock) -> WebhookSender:
    """POST a body to the backend's webhook, signed as GCC signs it."""

    async def send(
        body: bytes,
        *,
        webhook_id: str | None = None,
        timestamp: datetime | None = None,
        secret: str = BACKEND_WEBHOOK_SECRET,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        signed = build_headers(
            secret, webhook_id or f"msg_{uuid.uuid4().hex}", timestamp or gcc_clock.now(), body
        )
        return await backend_client.post(
            "/api/deployment/webhook",
            content=body,
            headers={"Content-Type": "application/json", **signed, **(headers or {})},
        )

    return send


@pytest.fixture
async def backend_runtime(
    backend_settings: Settings,
    gcc_clock: ManualClock,
    backend_task_recorder: TaskRecorder,
    tmp_path: Path,
) -> AsyncIterator[Runtime]:
    """The worker side: a runtime on the test's clock, with millisecond download backoff and
    a staging directory of the test's own."""
    settings = backend_settings.model_copy(
        update={"download_retry_base_seconds": 0.01, "staging_directory": str(tmp_path / "staging")}
    )
    async with open_runtime(settings, clock=gcc_clock, send_task=backend_task_recorder) as runtime:
        yield runtime


@pytest.fixture
def gcc_bucket(gcc_settings: GccSettings, s3_endpoint: str) -> tuple[Any, str]:
    """A boto3 client and the name of GCC's bucket (to corrupt what GCC serves)."""
    return s3_client(s3_endpoint), gcc_settings.bucket_name


@pytest.fixture
def customer_bucket(backend_settings: Settings, s3_endpoint: str) -> tuple[Any, str]:
    """A boto3 client and the name of the backend's bucket, emptied of artifacts."""
    client = s3_client(s3_endpoint)
    listed = client.list_objects_v2(Bucket=backend_settings.bucket_name)
    for item in listed.get("Contents", []):
        client.delete_object(Bucket=backend_settings.bucket_name, Key=item["Key"])
    return client, backend_settings.bucket_name
