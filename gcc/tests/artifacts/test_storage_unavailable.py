"""A bucket GCC cannot use (its S3 server stopped, or its credentials refused) answers 503
``storage_unavailable`` with ``Retry-After``, stores no row, and serves again once it works."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from sqlmodel import select

from contracts import ReleaseStatus
from gcc.app import create_app
from gcc.artifacts.models import Artifact
from gcc.settings import Settings
from servicekit.db import SessionFactory
from timekeeping import ManualClock
from wrktalk_testing.s3 import CredentialCheckingS3Server, MotoS3Server
from wrktalk_testing.servers import ServedApp

from .test_endpoints import Uploader, add_release

OrganizationFactory = Callable[..., Any]


def serve_gcc(
    gcc_settings: Settings, clock: ManualClock, recorder: object, endpoint: str
) -> ServedApp:
    settings = gcc_settings.model_copy(update={"s3_endpoint_url": endpoint, "s3_max_attempts": 1})
    served = ServedApp(create_app(settings, clock=clock, send_task=recorder))
    served.start()
    return served


def assert_storage_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "5"
    body = response.json()
    assert body["error"] == "storage_unavailable"
    assert body["field"] is None


async def artifact_rows(sessions: SessionFactory) -> list[Artifact]:
    async with sessions() as session:
        return list((await session.exec(select(Artifact))).all())


async def test_a_stopped_s3_server_answers_503_and_the_same_requests_succeed_once_it_is_back(
    gcc_settings: Settings,
    gcc_clock_session: ManualClock,
    task_recorder_session: object,
    s3_stoppable_server: MotoS3Server,
    upload: Uploader,
    helm_chart: Callable[[str], bytes],
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
    organization_factory: OrganizationFactory,
) -> None:
    served = serve_gcc(
        gcc_settings, gcc_clock_session, task_recorder_session, s3_stoppable_server.endpoint_url
    )
    customer = await organization_factory()
    try:
        async with httpx.AsyncClient(base_url=served.base_url, timeout=30) as client:
            chart = helm_chart("2.3.0")
            assert (await upload(chart, client=client)).status_code == 200
            await add_release(gcc_sessions, gcc_clock, "2.3.0", ReleaseStatus.PUBLISHED)
            s3_stoppable_server.stop()

            refused_upload = await upload(helm_chart("2.4.0"), version="2.4.0", client=client)
            refused_download = await client.get(
                "/api/artifacts/charts/2.3.0", headers=customer.headers
            )

            assert_storage_unavailable(refused_upload)
            assert_storage_unavailable(refused_download)
            assert [row.version for row in await artifact_rows(gcc_sessions)] == ["2.3.0"]

            s3_stoppable_server.start()
            assert (await upload(helm_chart("2.4.0"), version="2.4.0", client=client)).is_success
            served_again = await client.get("/api/artifacts/charts/2.3.0", headers=customer.headers)
            assert served_again.status_code == 200
            assert served_again.content == chart
    finally:
        served.stop()


async def test_refused_bucket_credentials_answer_503_storage_unavailable(
    gcc_settings: Settings,
    gcc_clock_session: ManualClock,
    task_recorder_session: object,
    s3_refusing_server: CredentialCheckingS3Server,
    upload: Uploader,
    helm_chart: Callable[[str], bytes],
    gcc_sessions: SessionFactory,
) -> None:
    served = serve_gcc(
        gcc_settings, gcc_clock_session, task_recorder_session, s3_refusing_server.endpoint_url
    )
    try:
        async with httpx.AsyncClient(base_url=served.base_url, timeout=30) as client:
            refused_upload = await upload(helm_chart("2.4.0"), version="2.4.0", client=client)
    finally:
        served.stop()

    assert_storage_unavailable(refused_upload)
    assert await artifact_rows(gcc_sessions) == []
