"""Artifact upload (CI) and download (customer) over HTTP against the served GCC."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlmodel import select

from contracts import ArtifactType, ReleaseStatus, Version
from gcc.app import create_app
from gcc.artifacts.models import Artifact
from gcc.artifacts.retention import remove_orphans
from gcc.artifacts.service import store_artifact
from gcc.artifacts.upload import ReceivedFile
from gcc.releases.models import Release
from gcc.releases.service import release_status
from gcc.settings import Settings
from objectstore import S3ObjectStore
from servicekit.db import SessionFactory, session_scope
from timekeeping import ManualClock
from wrktalk_testing.servers import ServedApp

Uploader = Callable[..., Awaitable[httpx.Response]]
OrganizationFactory = Callable[..., Awaitable[Any]]

SMALL_LIMIT = 4096

HELM_KEY = "charts/helm/wrktalk-2.3.0.tgz"
COMPOSE_KEY = "charts/compose/wrktalk-2.3.0-compose.tar.gz"


async def artifact_rows(sessions: SessionFactory) -> list[Artifact]:
    async with sessions() as session:
        return list((await session.exec(select(Artifact))).all())


async def add_release(
    sessions: SessionFactory, clock: ManualClock, version: str, status: ReleaseStatus
) -> Release:
    now = clock.now()
    release = Release(
        version=version,
        status=status,
        image_tags={"backend": "b", "media": "m", "controlTower": "c", "agent": "a"},
        new_non_essential_envs=[],
        created_by="ci",
        created_at=now,
        updated_at=now,
        published_at=now if status != ReleaseStatus.DRAFT else None,
    )
    async with sessions() as session:
        session.add(release)
        await session.commit()
    return release


@pytest.fixture(scope="module")
def small_limit_server(
    gcc_settings: Settings, gcc_clock_session: ManualClock, task_recorder_session: object
) -> Iterator[ServedApp]:
    """A second GCC on the same database that accepts uploads of at most 4 KiB."""
    settings = gcc_settings.model_copy(update={"max_artifact_bytes": SMALL_LIMIT})
    served = ServedApp(
        create_app(settings, clock=gcc_clock_session, send_task=task_recorder_session)
    )
    served.start()
    yield served
    served.stop()


@pytest.fixture
async def small_limit_client(
    small_limit_server: ServedApp, gcc_client: httpx.AsyncClient
) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=small_limit_server.base_url, timeout=30) as client:
        yield client


async def test_helm_upload_is_stored_with_the_sha256_of_its_bytes(
    upload: Uploader,
    helm_chart: Callable[[str], bytes],
    object_store: S3ObjectStore,
    gcc_sessions: SessionFactory,
) -> None:
    content = helm_chart("2.3.0")

    response = await upload(content)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["bucketPath"] == HELM_KEY
    assert body["sha256"] == hashlib.sha256(content).hexdigest()
    assert body["sizeBytes"] == len(content)
    assert body["type"] == "helm"
    assert body["version"] == "2.3.0"
    stored = b"".join([chunk async for chunk in object_store.iter_chunks(HELM_KEY)])
    assert stored == content
    [row] = await artifact_rows(gcc_sessions)
    assert (row.version, row.type, row.sha256) == ("2.3.0", "helm", body["sha256"])
    assert str(row.id) == body["id"]


async def test_compose_upload_is_stored_under_the_compose_key(
    upload: Uploader, compose_bundle: Callable[[str], bytes], object_store: S3ObjectStore
) -> None:
    response = await upload(compose_bundle("2.3.0"), artifact_type="compose")

    assert response.status_code == 200, response.text
    assert response.json()["bucketPath"] == COMPOSE_KEY
    assert await object_store.head(COMPOSE_KEY) is not None


async def test_version_with_a_v_prefix_is_stored_under_the_plain_version(
    upload: Uploader, helm_chart: Callable[[str], bytes]
) -> None:
    response = await upload(helm_chart("2.3.0"), version="v2.3.0")

    assert response.status_code == 200, response.text
    assert response.json()["bucketPath"] == HELM_KEY


@pytest.mark.parametrize(
    ("files", "reason"),
    [
        ({"wrktalk/values.yaml": "a: 1\n"}, "Chart.yaml"),
        ({"wrktalk/Chart.yaml": "apiVersion: v2\nname: wrktalk\nversion: 9.9.9\n"}, "9.9.9"),
        (None, "not a gzip"),
    ],
    ids=["no-chart-yaml", "version-mismatch", "not-gzip"],
)
async def test_bad_chart_is_422_and_leaves_neither_row_nor_object(
    upload: Uploader,
    archive: Callable[[dict[str, str | bytes]], bytes],
    object_store: S3ObjectStore,
    gcc_sessions: SessionFactory,
    files: dict[str, str | bytes] | None,
    reason: str,
) -> None:
    content = archive(files) if files is not None else b"this is not an archive at all"

    response = await upload(content)

    assert response.status_code == 422, response.text
    assert response.json()["field"] == "file"
    assert reason in response.json()["detail"]
    assert await artifact_rows(gcc_sessions) == []
    assert await object_store.head(HELM_KEY) is None


async def test_compose_bundle_without_compose_file_is_422(
    upload: Uploader, archive: Callable[[dict[str, str | bytes]], bytes]
) -> None:
    response = await upload(archive({"wrktalk/README": "x"}), artifact_type="compose")

    assert response.status_code == 422
    assert response.json()["field"] == "file"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"type": "zip", "version": "2.3.0"}, "type"),
        ({"version": "2.3.0"}, "type"),
        ({"type": "helm", "version": "2.3"}, "version"),
        ({"type": "helm"}, "version"),
    ],
)
async def test_bad_form_field_is_422_naming_it(
    gcc_client: httpx.AsyncClient,
    ci_headers: dict[str, str],
    helm_chart: Callable[[str], bytes],
    data: dict[str, str],
    field: str,
) -> None:
    response = await gcc_client.post(
        "/api/internal/artifacts",
        files={"file": ("chart.tgz", helm_chart("2.3.0"))},
        data=data,
        headers=ci_headers,
    )

    assert response.status_code == 422, response.text
    assert response.json()["field"] == field


async def test_form_without_a_file_is_422_naming_it(
    gcc_client: httpx.AsyncClient, ci_headers: dict[str, str]
) -> None:
    response = await gcc_client.post(
        "/api/internal/artifacts",
        files={"other": ("x.txt", b"x")},
        data={"type": "helm", "version": "2.3.0"},
        headers=ci_headers,
    )

    assert response.status_code == 422
    assert response.json()["field"] == "file"


async def test_json_body_is_refused_as_not_multipart(
    gcc_client: httpx.AsyncClient, ci_headers: dict[str, str]
) -> None:
    response = await gcc_client.post(
        "/api/internal/artifacts", json={"type": "helm"}, headers=ci_headers
    )

    assert response.status_code == 422
    assert "multipart/form-data" in response.json()["detail"]


async def test_oversized_upload_is_413_and_leaves_neither_row_nor_object(
    upload: Uploader,
    small_limit_client: httpx.AsyncClient,
    archive: Callable[[dict[str, str | bytes]], bytes],
    object_store: S3ObjectStore,
    gcc_sessions: SessionFactory,
) -> None:
    content = archive(
        {"wrktalk/Chart.yaml": "version: 2.3.0\n", "wrktalk/blob": os.urandom(SMALL_LIMIT * 2)}
    )

    response = await upload(content, client=small_limit_client)

    assert response.status_code == 413, response.text
    assert response.json()["field"] == "file"
    assert await artifact_rows(gcc_sessions) == []
    assert await object_store.head(HELM_KEY) is None


async def test_oversized_upload_without_content_length_is_cut_off_while_streaming(
    small_limit_client: httpx.AsyncClient,
    ci_headers: dict[str, str],
    object_store: S3ObjectStore,
    gcc_sessions: SessionFactory,
) -> None:
    boundary = "b0undary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="type"\r\n\r\nhelm\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="version"\r\n\r\n2.3.0\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="c.tgz"\r\n\r\n'
    ).encode()

    async def chunked_body() -> AsyncIterator[bytes]:
        yield head
        for _ in range(8):
            yield b"\x1f\x8b" + b"x" * 1022

    response = await small_limit_client.post(
        "/api/internal/artifacts",
        content=chunked_body(),
        headers={**ci_headers, "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )

    assert response.status_code == 413
    assert await artifact_rows(gcc_sessions) == []
    assert await object_store.head(HELM_KEY) is None


async def test_upload_for_a_published_release_is_409(
    upload: Uploader,
    helm_chart: Callable[[str], bytes],
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
) -> None:
    await add_release(gcc_sessions, gcc_clock, "2.3.0", ReleaseStatus.PUBLISHED)

    response = await upload(helm_chart("2.3.0"))

    assert response.status_code == 409
    assert response.json()["field"] == "version"
    assert await artifact_rows(gcc_sessions) == []


async def test_upload_for_a_draft_release_replaces_its_artifact(
    upload: Uploader,
    archive: Callable[[dict[str, str | bytes]], bytes],
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
    object_store: S3ObjectStore,
) -> None:
    await add_release(gcc_sessions, gcc_clock, "2.3.0", ReleaseStatus.DRAFT)
    first = archive({"wrktalk/Chart.yaml": "version: 2.3.0\ndescription: first\n"})
    second = archive({"wrktalk/Chart.yaml": "version: 2.3.0\ndescription: second\n"})
    assert (await upload(first)).status_code == 200

    response = await upload(second)

    assert response.status_code == 200
    [row] = await artifact_rows(gcc_sessions)
    assert row.sha256 == hashlib.sha256(second).hexdigest()
    assert b"".join([chunk async for chunk in object_store.iter_chunks(HELM_KEY)]) == second


@pytest.mark.parametrize("token", [None, "operator-token-for-tests", "wrong"])
async def test_upload_without_the_ci_token_is_401(
    upload: Uploader, helm_chart: Callable[[str], bytes], token: str | None
) -> None:
    headers = {"Authorization": f"Bearer {token}"} if token else {}

    response = await upload(helm_chart("2.3.0"), headers=headers)

    assert response.status_code == 401


async def publish_directly(
    sessions: SessionFactory, clock: ManualClock, version: str = "2.3.0"
) -> None:
    await add_release(sessions, clock, version, ReleaseStatus.PUBLISHED)


async def test_download_streams_the_bytes_with_their_sha256(
    upload: Uploader,
    helm_chart: Callable[[str], bytes],
    gcc_client: httpx.AsyncClient,
    organization_factory: OrganizationFactory,
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
) -> None:
    content = helm_chart("2.3.0")
    assert (await upload(content)).status_code == 200
    await publish_directly(gcc_sessions, gcc_clock)
    customer = await organization_factory()

    response = await gcc_client.get(
        "/api/artifacts/charts/2.3.0", params={"type": "helm"}, headers=customer.headers
    )

    assert response.status_code == 200
    assert response.content == content
    assert response.headers["x-sha256"] == hashlib.sha256(content).hexdigest()
    assert response.headers["content-length"] == str(len(content))


async def test_download_defaults_to_the_helm_chart_and_serves_compose_on_request(
    upload: Uploader,
    helm_chart: Callable[[str], bytes],
    compose_bundle: Callable[[str], bytes],
    gcc_client: httpx.AsyncClient,
    organization_factory: OrganizationFactory,
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
) -> None:
    chart, bundle = helm_chart("2.3.0"), compose_bundle("2.3.0")
    assert (await upload(chart)).status_code == 200
    assert (await upload(bundle, artifact_type="compose")).status_code == 200
    await publish_directly(gcc_sessions, gcc_clock)
    customer = await organization_factory()

    default = await gcc_client.get("/api/artifacts/charts/2.3.0", headers=customer.headers)
    compose = await gcc_client.get(
        "/api/artifacts/charts/2.3.0?type=compose", headers=customer.headers
    )

    assert default.content == chart
    assert compose.content == bundle


async def test_download_of_an_unknown_version_or_type_is_404(
    upload: Uploader,
    helm_chart: Callable[[str], bytes],
    gcc_client: httpx.AsyncClient,
    organization_factory: OrganizationFactory,
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
) -> None:
    assert (await upload(helm_chart("2.3.0"))).status_code == 200
    await publish_directly(gcc_sessions, gcc_clock)
    customer = await organization_factory()

    unknown_version = await gcc_client.get("/api/artifacts/charts/9.9.9", headers=customer.headers)
    no_compose = await gcc_client.get(
        "/api/artifacts/charts/2.3.0?type=compose", headers=customer.headers
    )

    assert unknown_version.status_code == 404
    assert no_compose.status_code == 404


async def test_download_of_a_draft_is_404(
    upload: Uploader,
    helm_chart: Callable[[str], bytes],
    gcc_client: httpx.AsyncClient,
    organization_factory: OrganizationFactory,
) -> None:
    assert (await upload(helm_chart("2.3.0"))).status_code == 200
    customer = await organization_factory()

    response = await gcc_client.get("/api/artifacts/charts/2.3.0", headers=customer.headers)

    assert response.status_code == 404


async def test_download_with_a_bad_version_or_type_is_422_naming_it(
    gcc_client: httpx.AsyncClient, organization_factory: OrganizationFactory
) -> None:
    customer = await organization_factory()

    bad_version = await gcc_client.get("/api/artifacts/charts/latest", headers=customer.headers)
    bad_type = await gcc_client.get(
        "/api/artifacts/charts/2.3.0?type=zip", headers=customer.headers
    )

    assert (bad_version.status_code, bad_version.json()["field"]) == (422, "version")
    assert (bad_type.status_code, bad_type.json()["field"]) == (422, "type")


@pytest.mark.parametrize("token", [None, "ci-token-for-tests", "not-a-key"])
async def test_download_without_an_organization_key_is_401(
    gcc_client: httpx.AsyncClient, token: str | None
) -> None:
    headers = {"Authorization": f"Bearer {token}"} if token else {}

    response = await gcc_client.get("/api/artifacts/charts/2.3.0", headers=headers)

    assert response.status_code == 401


async def test_download_of_a_version_removed_by_retention_is_410(
    gcc_client: httpx.AsyncClient,
    gcc_settings: Settings,
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
    object_store: S3ObjectStore,
    helm_chart: Callable[[str], bytes],
    received_file: Callable[[bytes], ReceivedFile],
    organization_factory: OrganizationFactory,
) -> None:
    async with session_scope(gcc_sessions) as session:
        await store_artifact(
            session,
            clock=gcc_clock,
            settings=gcc_settings,
            object_store=object_store,
            artifact_type=ArtifactType.HELM,
            version=Version.parse("2.2.0"),
            upload=received_file(helm_chart("2.2.0")),
            release_status=release_status,
        )
    # no release for a day: removed as an orphan; then a release of that version appears
    gcc_clock.advance(timedelta(hours=25))
    async with session_scope(gcc_sessions) as session:
        await remove_orphans(
            session,
            clock=gcc_clock,
            object_store=object_store,
            older_than=gcc_settings.orphan_artifact_age,
            release_status=release_status,
        )
    await publish_directly(gcc_sessions, gcc_clock, "2.2.0")
    customer = await organization_factory()

    response = await gcc_client.get("/api/artifacts/charts/2.2.0", headers=customer.headers)

    assert response.status_code == 410
    assert "retention" in response.json()["detail"]
