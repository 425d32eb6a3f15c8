"""Storing artifacts and retention, through the service against PostgreSQL and S3."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlmodel import col, select

from contracts import ArtifactType, Version
from gcc.artifacts.models import Artifact
from gcc.artifacts.service import artifact_key, store_artifact
from gcc.artifacts.upload import ReceivedFile
from gcc.releases.service import release_status
from gcc.settings import Settings
from objectstore import S3ObjectStore
from servicekit.db import SessionFactory, session_scope
from timekeeping import ManualClock


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


async def removed_and_kept(sessions: SessionFactory) -> tuple[list[str], list[str]]:
    async with sessions() as session:
        rows = (await session.exec(select(Artifact).order_by(col(Artifact.created_at)))).all()
    removed = [row.version for row in rows if row.removed_at is not None]
    kept = [row.version for row in rows if row.removed_at is None]
    return removed, kept


async def test_retention_keeps_the_newest_uploads_of_a_type(
    gcc_settings: Settings,
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
    object_store: S3ObjectStore,
    helm_chart: Callable[[str], bytes],
    received_file: Callable[[bytes], ReceivedFile],
) -> None:
    keep_three = gcc_settings.model_copy(update={"artifact_retention": 3})

    await store_versions(
        ["2.0.0", "2.1.0", "2.2.0", "2.3.0", "2.4.0"],
        settings=keep_three,
        sessions=gcc_sessions,
        clock=gcc_clock,
        store=object_store,
        chart=helm_chart,
        received_file=received_file,
    )

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
    keep_one = gcc_settings.model_copy(update={"artifact_retention": 1})
    async with session_scope(gcc_sessions) as session:
        await store_artifact(
            session,
            clock=gcc_clock,
            settings=keep_one,
            object_store=object_store,
            artifact_type=ArtifactType.COMPOSE,
            version=Version.parse("2.0.0"),
            upload=received_file(compose_bundle("2.0.0")),
            release_status=release_status,
        )
    gcc_clock.advance(timedelta(minutes=1))

    await store_versions(
        ["2.1.0"],
        settings=keep_one,
        sessions=gcc_sessions,
        clock=gcc_clock,
        store=object_store,
        chart=helm_chart,
        received_file=received_file,
    )

    removed, _ = await removed_and_kept(gcc_sessions)
    assert removed == []
    assert await object_store.head(artifact_key(ArtifactType.COMPOSE, "2.0.0")) is not None


async def test_uploading_a_removed_version_again_restores_it(
    gcc_settings: Settings,
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
    object_store: S3ObjectStore,
    helm_chart: Callable[[str], bytes],
    received_file: Callable[[bytes], ReceivedFile],
) -> None:
    keep_two = gcc_settings.model_copy(update={"artifact_retention": 2})
    arguments = {
        "settings": keep_two,
        "sessions": gcc_sessions,
        "clock": gcc_clock,
        "store": object_store,
        "chart": helm_chart,
        "received_file": received_file,
    }
    await store_versions(["2.0.0", "2.1.0", "2.2.0"], **arguments)  # type: ignore[arg-type]

    await store_versions(["2.0.0"], **arguments)  # type: ignore[arg-type]

    removed, kept = await removed_and_kept(gcc_sessions)
    assert removed == ["2.1.0"]
    assert sorted(kept) == ["2.0.0", "2.2.0"]
    assert await object_store.head(artifact_key(ArtifactType.HELM, "2.0.0")) is not None
