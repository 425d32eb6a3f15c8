"""A runtime for the reporting tests, and releases published at the served GCC."""

from __future__ import annotations

import io
import tarfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest

from customer_backend.runtime import Runtime, open_runtime
from customer_backend.settings import Settings
from testsupport.backend_fixtures import BACKEND_GCC_API_KEY, BACKEND_ORGANIZATION
from testsupport.gcc_fixtures import TaskRecorder
from timekeeping import ManualClock

ReleasePublisher = Callable[[str], Awaitable[uuid.UUID]]


def _chart(version: str) -> bytes:
    data = f"apiVersion: v2\nname: wrktalk\nversion: {version}\n".encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo("wrktalk/Chart.yaml")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.fixture
def publish_at_gcc(
    gcc_client: httpx.AsyncClient, ci_headers: dict[str, str], backend_client: httpx.AsyncClient
) -> ReleasePublisher:
    """Publish a release to the backend's organization at GCC; its GCC release id."""

    async def publish(version: str) -> uuid.UUID:
        for response in (
            await gcc_client.post(
                "/api/internal/artifacts",
                files={"file": ("chart.tgz", _chart(version))},
                data={"type": "helm", "version": version},
                headers=ci_headers,
            ),
            await gcc_client.post(
                "/api/internal/releases",
                json={
                    "version": version,
                    "imageTags": {"backend": "b", "media": "m", "controlTower": "c", "agent": "a"},
                },
                headers=ci_headers,
            ),
            await gcc_client.post(f"/api/internal/releases/{version}/publish", headers=ci_headers),
        ):
            assert response.status_code == 200, response.text
        updates = await gcc_client.get(
            f"/api/v1/organizations/{BACKEND_ORGANIZATION}/updates",
            headers={"Authorization": f"Bearer {BACKEND_GCC_API_KEY}"},
        )
        [entry] = [e for e in updates.json()["releases"] if e["release"]["version"] == version]
        return uuid.UUID(entry["release"]["id"])

    return publish


@pytest.fixture
async def backend_runtime(
    backend_settings: Settings,
    gcc_clock: ManualClock,
    backend_task_recorder: TaskRecorder,
    backend_client: httpx.AsyncClient,
) -> AsyncIterator[Runtime]:
    """The worker side on the test's clock (GCC knows the organization, tables are empty)."""
    async with open_runtime(
        backend_settings, clock=gcc_clock, send_task=backend_task_recorder
    ) as runtime:
        yield runtime


@pytest.fixture
async def unreachable_gcc() -> AsyncIterator[httpx.AsyncClient]:
    """A GCC client pointed at a closed port."""
    async with httpx.AsyncClient(base_url="http://127.0.0.1:9", timeout=2) as client:
        yield client
