"""Throughput and peak memory of importing an offline release bundle, against a plain copy.

The script generates, in a temporary directory, a bundle as ``gcc release export`` writes it
(signed manifest for one organization, ``release.json``, summary) around one artifact of
``--size-mb`` pseudo-random MiB, signed with a key generated for the run. It creates a fresh
PostgreSQL database, migrates it as the customer backend does, and then, in this process:

1. the anchor: copies the bundle file to another file a MiB at a time and flushes it to disk
   (``fsync``, as the import's bucket write ends with one);
2. imports it with ``customer_backend.intake.bundles.import_bundle``, exactly as
   ``customer-backend release import`` does: every member checked, the manifest verified, the
   artifact hashed and counted while it streams into the bucket, the release recorded;
3. copies the bundle again, so that the anchor brackets the import on a disk shared with other
   work (every phase starts after ``sync``: what an earlier one left dirty is not charged to it).

The bucket is a ``filesystem`` one in the same temporary directory by default, so the import
and the anchor write to the same disk; ``--bucket s3`` imports into moto's S3 server in a child
process instead (its memory does not count), as ``objectstore_memory.py`` does. Each phase's
peak RSS growth is the kernel's high-water mark (``VmHWM``, reset before the phase) over the
RSS before it. The exit status is 1 when the import grows by ``TARGET_GROWTH_MIB`` or more.

    uv run python bench/bundle_import.py [--size-mb 256] [--bucket filesystem|s3]

Pass ``--size-mb 1024`` for the 1 GB bundle of the issue (it needs about 3 GiB of free disk in
the temporary directory: the bundle, its copy and the stored artifact).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import hashlib
import io
import os
import sys
import tarfile
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from objectstore_memory import CREDENTIALS, moto_server

from contracts import (
    ArtifactType,
    DeploymentType,
    ManifestArtifact,
    PublishedRelease,
    ReleaseManifest,
    ReleasePublishedWebhook,
    ReleaseRuleset,
    Version,
)
from contracts.bundles import (
    BUNDLE_MANIFEST,
    BUNDLE_RELEASE,
    BUNDLE_RELEASE_SIGNATURE,
    BUNDLE_SUMMARY,
    bundle_artifact_name,
)
from customer_backend.intake.bundles import import_bundle
from customer_backend.migrations_runner import upgrade_to_head
from customer_backend.runtime import open_runtime
from customer_backend.settings import Settings
from signing import SigningKey, sign_document, sign_manifest
from wrktalk_testing.peak_memory import peak_rss_bytes, reset_peak_rss, rss_bytes

MIB = 1024 * 1024
TARGET_GROWTH_MIB = 32
ORGANIZATION = "bench-org"
VERSION = "9.9.0"
ADMIN_DSN = os.environ.get("BENCH_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
IMAGE_TAGS = {"backend": "sha-b", "media": "sha-m", "controlTower": "sha-c", "agent": "sha-a"}


def write_artifact(path: Path, size: int) -> str:
    """``size`` pseudo-random bytes at ``path``, a MiB at a time; their SHA256."""
    digest = hashlib.sha256()
    with path.open("wb") as handle:
        remaining = size
        while remaining > 0:
            chunk = os.urandom(min(MIB, remaining))
            digest.update(chunk)
            handle.write(chunk)
            remaining -= len(chunk)
    return digest.hexdigest()


def write_bundle(directory: Path, size: int, key: SigningKey) -> Path:
    """A bundle as GCC exports it, around one Helm artifact of ``size`` bytes."""
    artifact_path = directory / "artifact.tgz"
    sha256 = write_artifact(artifact_path, size)
    now = datetime.now(UTC).replace(microsecond=0)
    artifact = ManifestArtifact(
        type=ArtifactType.HELM,
        object_name=f"charts/helm/wrktalk-{VERSION}.tgz",
        sha256=sha256,
        size_bytes=size,
    )
    release_id = uuid.uuid4()
    manifest = ReleaseManifest(
        release_id=release_id,
        version=Version.parse(VERSION),
        deployment_types=[DeploymentType.GITOPS, DeploymentType.KUBERNETES],
        artifacts=[artifact],
        image_tags=IMAGE_TAGS,
        is_forced=False,
        organization=ORGANIZATION,
        issued_at=now,
        expires_at=now + timedelta(days=14),
        key_id=key.key_id,
    )
    webhook = ReleasePublishedWebhook(
        release=PublishedRelease(
            id=release_id,
            version=Version.parse(VERSION),
            chart_version=Version.parse(VERSION),
            chart_sha256=sha256,
            image_tags=IMAGE_TAGS,
        ),
        ruleset=ReleaseRuleset(is_forced=False, release_notes="Benchmark"),
    )
    release_json = webhook.model_dump_json(indent=2, exclude={"manifest"}).encode()
    documents = {
        BUNDLE_MANIFEST: sign_manifest(manifest, key).model_dump_json(indent=2).encode(),
        BUNDLE_RELEASE: release_json,
        BUNDLE_RELEASE_SIGNATURE: sign_document(release_json, key).model_dump_json().encode(),
        BUNDLE_SUMMARY: f"Benchmark bundle of {VERSION}\n".encode(),
    }
    bundle = directory / "bundle.tar"
    with tarfile.open(bundle, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, data in documents.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        info = tarfile.TarInfo(bundle_artifact_name(artifact))
        info.size = size
        with artifact_path.open("rb") as source:
            archive.addfile(info, source)
    artifact_path.unlink()
    return bundle


@contextmanager
def fresh_database() -> Iterator[str]:
    """A migrated, empty customer backend database, dropped afterwards; its URL."""
    name = f"bench_bundle_import_{uuid.uuid4().hex[:10]}"

    async def execute(statement: str) -> None:
        connection = await asyncpg.connect(ADMIN_DSN)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(execute(f'CREATE DATABASE "{name}"'))
    base = ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    url = f"{base}/{name}"
    try:
        upgrade_to_head(url)
        yield url
    finally:
        asyncio.run(execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def run(settings: Settings, bundle: Path, workdir: Path) -> list[tuple[str, float, int]]:
    """The anchor copy, then the import; each phase's seconds and peak RSS growth."""
    phases: list[tuple[str, float, int]] = []
    recorded: list[str] = []

    def send_task(name: str, *_arguments: object, **_options: object) -> None:
        recorded.append(name)  # no worker: the email and retention tasks are only noted

    async with open_runtime(settings, send_task=send_task) as runtime:
        await runtime.object_store.ensure_bucket()
        for name in ("plain copy (anchor)", "import_bundle", "plain copy again"):
            # what earlier phases left dirty in the page cache is not charged to this one
            await asyncio.to_thread(os.sync)
            gc.collect()
            baseline = rss_bytes()
            reset_peak_rss()
            started = time.perf_counter()
            if name == "import_bundle":
                imported = await import_bundle(runtime=runtime, source=bundle)
                check(imported.size_bytes == bundle_artifact_size(bundle), "stored size")
            else:
                target = workdir / "copy.tar"
                await asyncio.to_thread(copy_to_disk, bundle, target)
                await asyncio.to_thread(target.unlink)
            seconds = time.perf_counter() - started
            phases.append((name, seconds, peak_rss_bytes() - baseline))
    return phases


def copy_to_disk(source: Path, target: Path) -> None:
    """The anchor: copy the file a MiB at a time and flush it to disk, as the import's bucket
    write does (not ``shutil.copyfile``, whose in-kernel copy no streaming reader can use)."""
    with source.open("rb") as reader, target.open("wb") as writer:
        while chunk := reader.read(MIB):
            writer.write(chunk)
        writer.flush()
        os.fsync(writer.fileno())


def bundle_artifact_size(bundle: Path) -> int:
    """The size of the bundle's one artifact."""
    with tarfile.open(bundle) as archive:
        return next(info.size for info in archive if info.name.startswith("artifacts/"))


def check(condition: bool, what: str) -> None:
    """Stop the benchmark when the import stored something else than the bundle held."""
    if not condition:
        raise SystemExit(f"{what} does not match the bundle")


def main() -> int:
    """Parse arguments, run the benchmark, print the figures; 1 when over the target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=256, help="artifact size in MiB")
    parser.add_argument("--bucket", choices=("filesystem", "s3"), default="filesystem")
    arguments = parser.parse_args()
    size = arguments.size_mb * MIB
    key = SigningKey.generate()
    with tempfile.TemporaryDirectory(prefix="bundle-import-bench-") as scratch:
        workdir = Path(scratch)
        bundle = write_bundle(workdir, size, key)
        with fresh_database() as database_url, bucket(arguments.bucket, workdir) as bucket_values:
            settings = Settings(
                organization_name=ORGANIZATION,
                deployment_type=DeploymentType.KUBERNETES,
                database_url=database_url,
                database_pool_size=2,
                manifest_trusted_keys=[key.public_text()],
                air_gapped=True,
                staging_directory=str(workdir / "staging"),
                log_json=False,
                log_level="WARNING",
                **bucket_values,
            )
            phases = asyncio.run(run(settings, bundle, workdir))
    print(f"bundle: {size / MIB:.0f} MiB artifact, bucket {arguments.bucket}")
    print(f"{'phase':<22}{'MiB/s':>9}{'seconds':>9}{'peak RSS growth MiB':>22}")
    for name, seconds, growth in phases:
        print(f"{name:<22}{size / MIB / seconds:9.1f}{seconds:9.2f}{growth / MIB:22.1f}")
    (_, before, _), (_, import_seconds, import_growth), (_, after, _) = phases
    anchor_seconds = (before + after) / 2
    ratio = import_seconds / anchor_seconds
    print(f"import / plain copy time (mean of the two copies): {ratio:.2f}")
    under = import_growth < TARGET_GROWTH_MIB * MIB
    verdict = "under the" if under else "NOT under the"
    print(
        f"import peak RSS growth: {import_growth / MIB:.1f} MiB, {verdict} {TARGET_GROWTH_MIB} MiB"
    )
    return 0 if under else 1


@contextmanager
def bucket(kind: str, workdir: Path) -> Iterator[dict[str, object]]:
    """The settings of the bucket the import stores into."""
    if kind == "filesystem":
        yield {"bucket_provider": "filesystem", "bucket_root": str(workdir / "bucket")}
        return
    os.environ.update(CREDENTIALS)
    with moto_server() as url:
        yield {"bucket_provider": "s3", "bucket_name": "bench-bundles", "bucket_endpoint": url}


if __name__ == "__main__":
    sys.exit(main())
