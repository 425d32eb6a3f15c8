"""Storing artifacts, retention and orphan removal, through the service against PostgreSQL and
S3, with the clock moved."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlmodel import col, select

from contracts import ArtifactType, ReleaseStatus, Version
from gcc.artifacts.models import Artifact
from gcc.artifacts.retention import apply_retention, remove_orphans
from gcc.artifacts.service import artifact_key, store_artifact
from gcc.artifacts.upload import ReceivedFile
from gcc.releases.models import Release
from gcc.releases.service import release_status
from gcc.settings import Settings
from gcc.worker import celery_app
from objectstore import S3ObjectStore
from servicekit.db import SessionFactory, session_scope
from timekeeping import ManualClock
from wrktalk_testing.s3 import MotoS3Server


async def store_versions(
    versions: list[str],
    *,
    settings: Settings,
    sessions: SessionFactory,
    clock: ManualClock,
    store: S3ObjectStore,
    chart: Callable[[str], bytes],
    received_file: Callable[[bytes], ReceivedFile],
) -> None:
    for version in versions:
        async with session_scope(sessions) as session:
            await store_artifact(
                session,
                clock=clock,
                settings=settings,
                object_store=store,
                artifact_type=ArtifactType.HELM,
                version=Version.parse(version),
                upload=received_file(chart(version)),
                release_status=release_status,
            )
        clock.advance(timedelta(minutes=1))


async def add_releases(
    sessions: SessionFactory, clock: ManualClock, status: ReleaseStatus, *versions: str
) -> None:
    """Releases of these versions in ``status``, created directly in the database."""
    now = clock.now()
    async with sessions() as session:
        for version in versions:
            session.add(
                Release(
                    version=version,
                    status=status,
                    image_tags={"backend": "b", "media": "m", "controlTower": "c", "agent": "a"},
                    new_non_essential_envs=[],
                    created_by="ci",
                    created_at=now,
                    updated_at=now,
                    published_at=now if status != ReleaseStatus.DRAFT else None,
                )
            )
        await session.commit()


async def retain(
    sessions: SessionFactory,
    clock: ManualClock,
    store: S3ObjectStore,
    keep: int,
    artifact_type: ArtifactType = ArtifactType.HELM,
) -> list[str]:
    """One retention pass, as the next upload of that type runs it."""
    async with session_scope(sessions) as session:
        return await apply_retention(
            session,
            clock=clock,
            object_store=store,
            artifact_type=artifact_type,
            keep=keep,
            release_status=release_status,
        )


async def sweep_orphans(
    sessions: SessionFactory, clock: ManualClock, store: S3ObjectStore, settings: Settings
) -> list[str]:
    async with session_scope(sessions) as session:
        return await remove_orphans(
            session,
            clock=clock,
            object_store=store,
            older_than=settings.orphan_artifact_age,
            release_status=release_status,
        )


async def removed_and_kept(sessions: SessionFactory) -> tuple[list[str], list[str]]:
    async with sessions() as session:
        rows = (await session.exec(select(Artifact).order_by(col(Artifact.created_at)))).all()
    removed = [row.version for row in rows if row.removed_at is not None]
    kept = [row.version for row in rows if row.removed_at is None]
    return removed, kept


async def test_retention_keeps_the_newest_released_uploads_of_a_type(
    gcc_settings: Settings,
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
    object_store: S3ObjectStore,
    helm_chart: Callable[[str], bytes],
    received_file: Callable[[bytes], ReceivedFile],
) -> None:
    versions = ["2.0.0", "2.1.0", "2.2.0", "2.3.0", "2.4.0"]
    await store_versions(
        versions,
        settings=gcc_settings,
        sessions=gcc_sessions,
        clock=gcc_clock,
        store=object_store,
        chart=helm_chart,
        received_file=received_file,
    )
    await add_releases(gcc_sessions, gcc_clock, ReleaseStatus.DEPRECATED, *versions)

    assert await retain(gcc_sessions, gcc_clock, object_store, keep=3) == ["2.1.0", "2.0.0"]

    removed, kept = await removed_and_kept(gcc_sessions)
    assert removed == ["2.0.0", "2.1.0"]
    assert kept == ["2.2.0", "2.3.0", "2.4.0"]
    stored = [info.key for info in await object_store.list("charts/helm/")]
    assert stored == [artifact_key(ArtifactType.HELM, v) for v in kept]


async def test_retention_counts_each_type_on_its_own(
    gcc_settings: Settings,
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
    object_store: S3ObjectStore,
    helm_chart: Callable[[str], bytes],
    compose_bundle: Callable[[str], bytes],
    received_file: Callable[[bytes], ReceivedFile],
) -> None:
    async with session_scope(gcc_sessions) as session:
        await store_artifact(
            session,
            clock=gcc_clock,
            settings=gcc_settings,
            object_store=object_store,
            artifact_type=ArtifactType.COMPOSE,
            version=Version.parse("2.0.0"),
            upload=received_file(compose_bundle("2.0.0")),
            release_status=release_status,
        )
    gcc_clock.advance(timedelta(minutes=1))
    await store_versions(
        ["2.1.0"],
        settings=gcc_settings,
        sessions=gcc_sessions,
        clock=gcc_clock,
        store=object_store,
        chart=helm_chart,
        received_file=received_file,
    )
    await add_releases(gcc_sessions, gcc_clock, ReleaseStatus.DEPRECATED, "2.0.0", "2.1.0")

    assert await retain(gcc_sessions, gcc_clock, object_store, keep=1) == []

    removed, _ = await removed_and_kept(gcc_sessions)
    assert removed == []
    assert await object_store.head(artifact_key(ArtifactType.COMPOSE, "2.0.0")) is not None


async def test_uploading_a_removed_orphan_again_restores_it(
    gcc_settings: Settings,
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
    object_store: S3ObjectStore,
    helm_chart: Callable[[str], bytes],
    received_file: Callable[[bytes], ReceivedFile],
) -> None:
    arguments = {
        "settings": gcc_settings,
        "sessions": gcc_sessions,
        "clock": gcc_clock,
        "store": object_store,
        "chart": helm_chart,
        "received_file": received_file,
    }
    await store_versions(["2.0.0"], **arguments)  # type: ignore[arg-type]
    gcc_clock.advance(timedelta(hours=25))
    assert await sweep_orphans(gcc_sessions, gcc_clock, object_store, gcc_settings) == [
        "2.0.0/helm"
    ]

    await store_versions(["2.0.0"], **arguments)  # type: ignore[arg-type]

    removed, kept = await removed_and_kept(gcc_sessions)
    assert (removed, kept) == ([], ["2.0.0"])
    assert await object_store.head(artifact_key(ArtifactType.HELM, "2.0.0")) is not None


async def test_orphans_do_not_count_toward_retention_and_never_push_out_a_release(
    gcc_settings: Settings,
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
    object_store: S3ObjectStore,
    helm_chart: Callable[[str], bytes],
    received_file: Callable[[bytes], ReceivedFile],
) -> None:
    keep_two = gcc_settings.model_copy(update={"artifact_retention": 2})
    await store_versions(
        ["2.0.0", "2.1.0"],
        settings=keep_two,
        sessions=gcc_sessions,
        clock=gcc_clock,
        store=object_store,
        chart=helm_chart,
        received_file=received_file,
    )
    await add_releases(gcc_sessions, gcc_clock, ReleaseStatus.PUBLISHED, "2.0.0")
    await add_releases(gcc_sessions, gcc_clock, ReleaseStatus.DEPRECATED, "2.1.0")

    # three orphans uploaded after them: each upload runs retention
    await store_versions(
        ["2.2.0", "2.3.0", "2.4.0"],
        settings=keep_two,
        sessions=gcc_sessions,
        clock=gcc_clock,
        store=object_store,
        chart=helm_chart,
        received_file=received_file,
    )

    removed, kept = await removed_and_kept(gcc_sessions)
    assert removed == []
    assert kept == ["2.0.0", "2.1.0", "2.2.0", "2.3.0", "2.4.0"]


async def test_retention_never_evicts_the_artifact_of_a_draft_or_published_release(
    gcc_settings: Settings,
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
    object_store: S3ObjectStore,
    helm_chart: Callable[[str], bytes],
    received_file: Callable[[bytes], ReceivedFile],
) -> None:
    await store_versions(
        ["2.0.0", "2.1.0", "2.2.0", "2.3.0"],
        settings=gcc_settings,
        sessions=gcc_sessions,
        clock=gcc_clock,
        store=object_store,
        chart=helm_chart,
        received_file=received_file,
    )
    await add_releases(gcc_sessions, gcc_clock, ReleaseStatus.DRAFT, "2.0.0")
    await add_releases(gcc_sessions, gcc_clock, ReleaseStatus.PUBLISHED, "2.1.0", "2.3.0")
    await add_releases(gcc_sessions, gcc_clock, ReleaseStatus.DEPRECATED, "2.2.0")

    assert await retain(gcc_sessions, gcc_clock, object_store, keep=1) == ["2.2.0"]

    removed, kept = await removed_and_kept(gcc_sessions)
    assert removed == ["2.2.0"]
    assert kept == ["2.0.0", "2.1.0", "2.3.0"]


async def test_an_orphan_is_removed_once_older_than_the_set_age(
    gcc_settings: Settings,
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
    object_store: S3ObjectStore,
    helm_chart: Callable[[str], bytes],
    received_file: Callable[[bytes], ReceivedFile],
) -> None:
    assert gcc_settings.orphan_artifact_age == timedelta(hours=24)
    await store_versions(
        ["2.0.0", "2.1.0"],
        settings=gcc_settings,
        sessions=gcc_sessions,
        clock=gcc_clock,
        store=object_store,
        chart=helm_chart,
        received_file=received_file,
    )
    await add_releases(gcc_sessions, gcc_clock, ReleaseStatus.DRAFT, "2.0.0")
    # store_versions moved the clock one minute after each upload: 2.1.0 is a minute old

    gcc_clock.advance(timedelta(hours=23, minutes=58))
    early = await sweep_orphans(gcc_sessions, gcc_clock, object_store, gcc_settings)
    gcc_clock.advance(timedelta(minutes=2))
    due = await sweep_orphans(gcc_sessions, gcc_clock, object_store, gcc_settings)
    gcc_clock.advance(timedelta(days=3))
    later = await sweep_orphans(gcc_sessions, gcc_clock, object_store, gcc_settings)

    assert (early, due, later) == ([], ["2.1.0/helm"], [])
    removed, kept = await removed_and_kept(gcc_sessions)
    assert (removed, kept) == (["2.1.0"], ["2.0.0"])
    assert await object_store.head(artifact_key(ArtifactType.HELM, "2.1.0")) is None
    assert await object_store.head(artifact_key(ArtifactType.HELM, "2.0.0")) is not None


async def test_beat_removes_orphans_every_hour_through_the_releases_task(
    gcc_settings: Settings,
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
    object_store: S3ObjectStore,
    helm_chart: Callable[[str], bytes],
    received_file: Callable[[bytes], ReceivedFile],
    task_thread: ThreadPoolExecutor,
) -> None:
    schedule = celery_app.conf.beat_schedule["releases.remove_orphan_artifacts"]
    assert schedule["schedule"] == 3600.0
    await store_versions(
        ["2.6.0"],
        settings=gcc_settings,
        sessions=gcc_sessions,
        clock=gcc_clock,
        store=object_store,
        chart=helm_chart,
        received_file=received_file,
    )
    gcc_clock.advance(timedelta(hours=24))
    task = celery_app.tasks["releases.remove_orphan_artifacts"]

    result = await asyncio.get_running_loop().run_in_executor(
        task_thread, lambda: task.apply().get()
    )

    assert result == ["2.6.0/helm"]
    assert await object_store.head(artifact_key(ArtifactType.HELM, "2.6.0")) is None


async def test_a_bucket_that_refuses_deletes_delays_retention_without_failing_it(
    gcc_settings: Settings,
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
    object_store: S3ObjectStore,
    s3_stoppable_server: MotoS3Server,
    helm_chart: Callable[[str], bytes],
    received_file: Callable[[bytes], ReceivedFile],
) -> None:
    versions = ["2.0.0", "2.1.0", "2.2.0"]
    await store_versions(
        versions,
        settings=gcc_settings,
        sessions=gcc_sessions,
        clock=gcc_clock,
        store=object_store,
        chart=helm_chart,
        received_file=received_file,
    )
    await add_releases(gcc_sessions, gcc_clock, ReleaseStatus.DEPRECATED, *versions)
    async with S3ObjectStore(
        gcc_settings.bucket_name,
        endpoint_url=s3_stoppable_server.endpoint_url,
        region=gcc_settings.s3_region,
        max_attempts=1,
    ) as out_of_reach:
        s3_stoppable_server.stop()
        assert await retain(gcc_sessions, gcc_clock, out_of_reach, keep=1) == []

    assert await removed_and_kept(gcc_sessions) == ([], versions)
    assert len(await object_store.list("charts/helm/")) == 3
    assert await retain(gcc_sessions, gcc_clock, object_store, keep=1) == ["2.1.0", "2.0.0"]
    assert await removed_and_kept(gcc_sessions) == (["2.0.0", "2.1.0"], ["2.2.0"])
