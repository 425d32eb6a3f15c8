"""Archives built in memory, the bucket, and an upload helper for the artifact tests."""

from __future__ import annotations

import hashlib
import io
import tarfile
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest

from gcc.artifacts.upload import ReceivedFile
from gcc.settings import Settings
from objectstore import S3ObjectStore

ArchiveBuilder = Callable[[dict[str, str | bytes]], bytes]
Uploader = Callable[..., Awaitable[httpx.Response]]


def build_archive(files: dict[str, str | bytes]) -> bytes:
    """A gzip-compressed tar holding ``files`` (name to content)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, content in files.items():
            data = content.encode() if isinstance(content, str) else content
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def chart_yaml(version: str, name: str = "wrktalk") -> str:
    return f"apiVersion: v2\nname: {name}\nversion: {version}\nappVersion: '{version}'\n"


@pytest.fixture
def archive() -> ArchiveBuilder:
    """Build a .tar.gz from a name-to-content mapping."""
    return build_archive


@pytest.fixture
def helm_chart() -> Callable[[str], bytes]:
    """A packaged Helm chart ``wrktalk/`` of the given version."""

    def build(version: str) -> bytes:
        return build_archive(
            {
                "wrktalk/Chart.yaml": chart_yaml(version),
                "wrktalk/values.yaml": "replicaCount: 1\n",
                "wrktalk/templates/deployment.yaml": "kind: Deployment\n",
            }
        )

    return build


@pytest.fixture
def compose_bundle() -> Callable[[str], bytes]:
    """A Compose bundle with ``wrktalk/docker-compose.yaml``."""

    def build(version: str) -> bytes:
        return build_archive(
            {
                "wrktalk/docker-compose.yaml": "services:\n  backend:\n    image: busybox\n",
                "wrktalk/.env": f"WRKTALK_VERSION={version}\n",
            }
        )

    return build


@pytest.fixture
def upload(gcc_client: httpx.AsyncClient, ci_headers: dict[str, str]) -> Uploader:
    """POST an artifact to the served GCC as CI."""

    async def send(
        content: bytes,
        *,
        artifact_type: str = "helm",
        version: str = "2.3.0",
        client: httpx.AsyncClient | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        return await (client or gcc_client).post(
            "/api/internal/artifacts",
            files={"file": ("artifact.tgz", content, "application/gzip")},
            data={"type": artifact_type, "version": version},
            headers=ci_headers if headers is None else headers,
        )

    return send


@pytest.fixture
async def object_store(gcc_settings: Settings) -> AsyncIterator[S3ObjectStore]:
    """The GCC bucket, emptied of artifacts for this test, for checking what was stored."""
    async with S3ObjectStore(
        bucket=gcc_settings.bucket_name,
        endpoint_url=gcc_settings.s3_endpoint_url,
        region=gcc_settings.s3_region,
    ) as store:
        for info in await store.list("charts/"):
            await store.delete(info.key)
        yield store


@pytest.fixture
def received_file(tmp_path: Path) -> Callable[[bytes], ReceivedFile]:
    """Stand a file on disk as if an upload had just been received."""

    def make(content: bytes) -> ReceivedFile:
        path = tmp_path / f"upload-{hashlib.sha256(content).hexdigest()[:12]}"
        path.write_bytes(content)
        return ReceivedFile(
            path=path, filename=None, sha256=hashlib.sha256(content).hexdigest(), size=len(content)
        )

    return make
