"""Release bodies, small artifacts and CI helpers for the release tests."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

ReleaseMaker = Callable[..., Awaitable[httpx.Response]]
ArtifactUploader = Callable[..., Awaitable[httpx.Response]]


def build_archive(files: dict[str, str]) -> bytes:
    """A gzip-compressed tar holding ``files`` (name to text)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def release_body(version: str = "2.3.0", **overrides: Any) -> dict[str, Any]:
    """A valid body of `POST /api/internal/releases` (spec 14.1)."""
    body: dict[str, Any] = {
        "version": version,
        "imageTags": {
            "backend": "sha-abc123",
            "media": "sha-def456",
            "controlTower": "sha-ghi789",
            "agent": "sha-jkl012",
        },
        "isForced": False,
        "isMigrationRequired": False,
        "estimatedDowntime": None,
        "releaseNotes": "Bug fixes",
        "newNonEssentialEnvs": [{"key": "NEW_FEATURE", "value": "false"}],
    }
    body.update(overrides)
    return body


@pytest.fixture
def upload_artifact(gcc_client: httpx.AsyncClient, ci_headers: dict[str, str]) -> ArtifactUploader:
    """Upload a minimal valid Helm chart or Compose bundle of a version, as CI."""

    async def send(version: str = "2.3.0", artifact_type: str = "helm") -> httpx.Response:
        if artifact_type == "helm":
            content = build_archive(
                {"wrktalk/Chart.yaml": f"apiVersion: v2\nname: wrktalk\nversion: {version}\n"}
            )
        else:
            content = build_archive(
                {"wrktalk/docker-compose.yaml": "services:\n  backend:\n    image: busybox\n"}
            )
        response = await gcc_client.post(
            "/api/internal/artifacts",
            files={"file": ("artifact.tgz", content)},
            data={"type": artifact_type, "version": version},
            headers=ci_headers,
        )
        assert response.status_code == 200, response.text
        return response

    return send


@pytest.fixture
def create_release(gcc_client: httpx.AsyncClient, ci_headers: dict[str, str]) -> ReleaseMaker:
    """POST a release body as CI."""

    async def send(version: str = "2.3.0", **overrides: Any) -> httpx.Response:
        return await gcc_client.post(
            "/api/internal/releases", json=release_body(version, **overrides), headers=ci_headers
        )

    return send


@pytest.fixture
def publish(gcc_client: httpx.AsyncClient, ci_headers: dict[str, str]) -> ReleaseMaker:
    """POST the publication of a version as CI."""

    async def send(version: str = "2.3.0", headers: dict[str, str] | None = None) -> httpx.Response:
        return await gcc_client.post(
            f"/api/internal/releases/{version}/publish",
            headers=ci_headers if headers is None else headers,
        )

    return send


@pytest.fixture
def ready_release(
    upload_artifact: ArtifactUploader, create_release: ReleaseMaker
) -> Callable[..., Awaitable[None]]:
    """Upload the chart (and, with ``compose=True``, the bundle) and create the draft."""

    async def make(version: str = "2.3.0", *, compose: bool = False, **overrides: Any) -> None:
        await upload_artifact(version, "helm")
        if compose:
            await upload_artifact(version, "compose")
        response = await create_release(version, **overrides)
        assert response.status_code == 200, response.text

    return make
