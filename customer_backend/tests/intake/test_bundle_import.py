"""Importing an offline bundle exported by the GCC under test: verified while the artifact
streams into the bucket, taken in as a webhook's release is, and refused with a sentence,
storing nothing, when any check fails."""

from __future__ import annotations

import asyncio
import json
import os
import tarfile
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from sqlmodel import select
from typer.testing import CliRunner

from contracts import (
    LocalDeploymentStatus,
    SignedManifest,
)
from contracts.bundles import BUNDLE_MANIFEST, BUNDLE_RELEASE, BUNDLE_RELEASE_SIGNATURE
from customer_backend.artifacts.models import LocalArtifact
from customer_backend.cli import app as backend_cli
from customer_backend.deployments.models import ScheduledDeployment
from customer_backend.intake.bundles import import_bundle
from customer_backend.notifications.models import Notification
from customer_backend.runtime import Runtime
from customer_backend.settings import Settings
from gcc.settings import Settings as GccSettings
from servicekit.db import SessionFactory
from servicekit.errors import Conflict, ServiceError
from signing import sign_document, sign_manifest
from testsupport.backend_fixtures import BACKEND_ORGANIZATION
from testsupport.bundles import bundle_members, export_bundle, rewrite_bundle
from testsupport.manifest_keys import OTHER_SIGNING_KEY, TEST_SIGNING_KEY
from timekeeping import Clock, ManualClock, SystemClock

from .conftest import Publisher

HELM_MEMBER = "artifacts/helm/wrktalk-2.3.0.tgz"
BundleMaker = Callable[..., Awaitable[Path]]


@pytest.fixture
def make_bundle(
    publish_release: Publisher,
    gcc_settings: GccSettings,
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
    customer_bucket: tuple[Any, str],
    tmp_path: Path,
) -> BundleMaker:
    """Publish a release at GCC and export its bundle (for this backend's organization unless
    told), with the tests' clock unless told."""

    async def make(
        version: str = "2.3.0",
        *,
        organization: str = BACKEND_ORGANIZATION,
        clock: Clock | None = None,
        filler: bytes = b"",
    ) -> Path:
        await publish_release(version, filler=filler)
        output = tmp_path / f"bundle-{version}-{organization}.tar"
        await export_bundle(
            gcc_settings=gcc_settings,
            gcc_sessions=gcc_sessions,
            clock=clock or gcc_clock,
            version=version,
            organization=organization,
            output=output,
        )
        return output

    return make


async def stored_nothing(sessions: SessionFactory, bucket: tuple[Any, str]) -> None:
    """No object in the bucket, no pending multipart upload, no deployment, artifact or email."""
    client, name = bucket
    assert client.list_objects_v2(Bucket=name).get("Contents", []) == []
    assert client.list_multipart_uploads(Bucket=name).get("Uploads", []) == []
    async with sessions() as session:
        for table in (ScheduledDeployment, LocalArtifact, Notification):
            assert (await session.exec(select(table))).all() == []


async def test_an_imported_bundle_is_a_release_ready_to_schedule_and_the_admins_hear_of_it(
    make_bundle: BundleMaker,
    backend_runtime: Runtime,
    backend_sessions: SessionFactory,
    customer_bucket: tuple[Any, str],
    publish_release: Publisher,
) -> None:
    bundle = await make_bundle()

    imported = await import_bundle(runtime=backend_runtime, source=bundle)

    client, name = customer_bucket
    stored = client.get_object(Bucket=name, Key=imported.bucket_key)["Body"].read()
    assert stored == bundle_members(bundle)[HELM_MEMBER]
    async with backend_sessions() as session:
        deployment = (await session.exec(select(ScheduledDeployment))).one()
        artifact = (await session.exec(select(LocalArtifact))).one()
        [email] = (await session.exec(select(Notification))).all()
    assert deployment.id == imported.deployment_id
    assert deployment.status == LocalDeploymentStatus.PENDING
    assert deployment.chart_downloaded is True
    assert deployment.chart_bucket_path == imported.bucket_key == "artifacts/helm/wrktalk-2.3.0.tgz"
    assert deployment.release_data["manifest"]["manifest"]["organization"] == BACKEND_ORGANIZATION
    assert deployment.release_data["ruleset"]["releaseNotes"] == "Notes of 2.3.0"
    assert (artifact.version, artifact.sha256) == ("2.3.0", deployment.expected_sha256)
    assert email.event == "release_available"
    # nothing is downloaded from GCC: the artifact came with the bundle
    assert "intake.download_release" not in backend_runtime.send_task.names()  # type: ignore[attr-defined]


async def test_a_large_artifact_streams_through_a_multipart_upload(
    make_bundle: BundleMaker,
    backend_runtime: Runtime,
    customer_bucket: tuple[Any, str],
) -> None:
    bundle = await make_bundle(filler=os.urandom(12 * 1024 * 1024))

    imported = await import_bundle(runtime=backend_runtime, source=bundle)

    client, name = customer_bucket
    head = client.head_object(Bucket=name, Key=imported.bucket_key)
    assert "-" in head["ETag"]  # a multipart upload's ETag
    assert head["ContentLength"] == imported.size_bytes > 12 * 1024 * 1024


def _manifest_document(bundle: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(bundle_members(bundle)[BUNDLE_MANIFEST])
    return document


def _tampered_manifest(bundle: Path) -> dict[str, bytes]:
    document = _manifest_document(bundle)
    document["manifest"]["isForced"] = True
    return {BUNDLE_MANIFEST: json.dumps(document).encode()}


def _other_key_manifest(bundle: Path) -> dict[str, bytes]:
    signed = SignedManifest.model_validate(_manifest_document(bundle))
    resigned = sign_manifest(signed.manifest, OTHER_SIGNING_KEY)
    return {BUNDLE_MANIFEST: resigned.model_dump_json().encode()}


def _unbound_manifest(bundle: Path) -> dict[str, bytes]:
    signed = SignedManifest.model_validate(_manifest_document(bundle))
    resigned = sign_manifest(
        signed.manifest.model_copy(update={"organization": None}), TEST_SIGNING_KEY
    )
    return {BUNDLE_MANIFEST: resigned.model_dump_json().encode()}


def _altered_artifact(bundle: Path) -> dict[str, bytes]:
    data = bytearray(bundle_members(bundle)[HELM_MEMBER])
    data[-1] ^= 0xFF
    return {HELM_MEMBER: bytes(data)}


def _forced_release(bundle: Path, *, resign: bool = True) -> dict[str, bytes]:
    document = json.loads(bundle_members(bundle)[BUNDLE_RELEASE])
    document["ruleset"]["isForced"] = True
    altered = json.dumps(document).encode()
    if not resign:
        return {BUNDLE_RELEASE: altered}
    signature = sign_document(altered, TEST_SIGNING_KEY).model_dump_json().encode()
    return {BUNDLE_RELEASE: altered, BUNDLE_RELEASE_SIGNATURE: signature}


def _new_settings_in_release(bundle: Path) -> dict[str, bytes]:
    document = json.loads(bundle_members(bundle)[BUNDLE_RELEASE])
    document["release"]["newNonEssentialEnvs"] = [{"key": "PAYMENTS_URL", "value": "evil"}]
    return {BUNDLE_RELEASE: json.dumps(document).encode()}


REFUSALS: dict[str, tuple[dict[str, Any], str]] = {
    "a manifest field changed": (
        {"replace": _tampered_manifest},
        "signed manifest was refused (badSignature)",
    ),
    "a manifest signed by an untrusted key": (
        {"replace": _other_key_manifest},
        "signed manifest was refused (unknownKey)",
    ),
    "a manifest signed for no organization": (
        {"replace": _unbound_manifest},
        "signed for no organization",
    ),
    "release.json altered": (
        {"replace": _new_settings_in_release},
        "release.json's signature was refused (badSignature)",
    ),
    "release.json altered and its signature dropped": (
        {
            "replace": lambda bundle: _forced_release(bundle, resign=False),
            "drop": {BUNDLE_RELEASE_SIGNATURE},
        },
        "The bundle has no release.json.sig",
    ),
    "release.json signed but disagreeing with the manifest": (
        {"replace": _forced_release},
        "disagrees with the webhook on ruleset.isForced",
    ),
    "an artifact missing": ({"drop": {HELM_MEMBER}}, f"The bundle lacks {HELM_MEMBER}"),
    "an artifact added": (
        {"add": {"artifacts/helm/extra.tgz": b"more"}},
        "The bundle holds artifacts/helm/extra.tgz, which its signed manifest does not list",
    ),
    "an artifact altered, same size": (
        {"replace": _altered_artifact},
        "does not match its signed manifest",
    ),
    "an artifact of another size": (
        {"replace": lambda _: {HELM_MEMBER: b"short"}},
        "has 5 bytes, not the signed",
    ),
    "a member climbing out of the bundle": (
        {"add": {"../../etc/cron.d/evil": b"* * * * * root true\n"}},
        "'..' in the path",
    ),
    "a member with an absolute path": (
        {"add": {"/etc/passwd": b"root::0:0::/:/bin/sh\n"}},
        "absolute path",
    ),
}


@pytest.mark.parametrize("case", list(REFUSALS))
async def test_a_bundle_is_refused_with_a_sentence_and_nothing_is_stored(
    case: str,
    make_bundle: BundleMaker,
    backend_runtime: Runtime,
    backend_sessions: SessionFactory,
    customer_bucket: tuple[Any, str],
    tmp_path: Path,
) -> None:
    bundle = await make_bundle()
    change, sentence = REFUSALS[case]
    replace = change.get("replace")
    bad = rewrite_bundle(
        bundle,
        tmp_path / "bad.tar",
        replace=replace(bundle) if replace else None,
        drop=change.get("drop"),
        add=change.get("add"),
    )

    with pytest.raises(ServiceError) as refused:
        await import_bundle(runtime=backend_runtime, source=bad)

    assert refused.value.status_code == 422
    assert sentence in refused.value.detail
    await stored_nothing(backend_sessions, customer_bucket)


async def test_an_altered_large_artifact_leaves_no_object_and_no_multipart_upload(
    make_bundle: BundleMaker,
    backend_runtime: Runtime,
    backend_sessions: SessionFactory,
    customer_bucket: tuple[Any, str],
    tmp_path: Path,
) -> None:
    bundle = await make_bundle(filler=os.urandom(12 * 1024 * 1024))
    bad = rewrite_bundle(bundle, tmp_path / "bad.tar", replace=_altered_artifact(bundle))

    with pytest.raises(ServiceError, match="does not match its signed manifest"):
        await import_bundle(runtime=backend_runtime, source=bad)

    await stored_nothing(backend_sessions, customer_bucket)


async def test_a_bundle_for_another_organization_is_refused(
    make_bundle: BundleMaker,
    organization_factory: Callable[..., Awaitable[Any]],
    backend_runtime: Runtime,
    backend_sessions: SessionFactory,
    customer_bucket: tuple[Any, str],
) -> None:
    await organization_factory("initech")
    bundle = await make_bundle(organization="initech")

    with pytest.raises(ServiceError) as refused:
        await import_bundle(runtime=backend_runtime, source=bundle)

    assert refused.value.field == "manifest"
    assert "for the organization initech, not acme" in refused.value.detail
    await stored_nothing(backend_sessions, customer_bucket)


async def test_an_expired_bundle_is_refused(
    make_bundle: BundleMaker,
    backend_runtime: Runtime,
    backend_sessions: SessionFactory,
    customer_bucket: tuple[Any, str],
    gcc_clock: ManualClock,
    gcc_settings: GccSettings,
) -> None:
    bundle = await make_bundle()
    gcc_clock.advance(gcc_settings.manifest_validity + timedelta(minutes=1))

    with pytest.raises(ServiceError, match=r"refused \(expired\)"):
        await import_bundle(runtime=backend_runtime, source=bundle)

    await stored_nothing(backend_sessions, customer_bucket)


async def test_a_truncated_bundle_is_refused(
    make_bundle: BundleMaker,
    backend_runtime: Runtime,
    backend_sessions: SessionFactory,
    customer_bucket: tuple[Any, str],
    tmp_path: Path,
) -> None:
    bundle = await make_bundle(filler=os.urandom(2 * 1024 * 1024))
    with tarfile.open(bundle) as archive:
        artifact = archive.getmember(HELM_MEMBER)
    cut = tmp_path / "cut.tar"
    cut.write_bytes(bundle.read_bytes()[: artifact.offset_data + artifact.size // 2])

    with pytest.raises(ServiceError) as refused:
        await import_bundle(runtime=backend_runtime, source=cut)

    assert refused.value.status_code == 422
    assert "not a complete release bundle" in refused.value.detail
    await stored_nothing(backend_sessions, customer_bucket)


@pytest.mark.parametrize(
    "content", [b"", b"{}", b"not a tar file at all\n" * 100], ids=["empty", "json", "text"]
)
async def test_a_file_that_is_not_a_tar_is_refused(
    content: bytes,
    backend_runtime: Runtime,
    backend_sessions: SessionFactory,
    customer_bucket: tuple[Any, str],
    tmp_path: Path,
) -> None:
    path = tmp_path / "bundle.tar"
    path.write_bytes(content)

    with pytest.raises(ServiceError) as refused:
        await import_bundle(runtime=backend_runtime, source=path)

    assert refused.value.status_code == 422
    assert refused.value.field == "bundle"
    await stored_nothing(backend_sessions, customer_bucket)


async def test_a_release_imported_twice_is_refused_the_second_time(
    make_bundle: BundleMaker, backend_runtime: Runtime, backend_sessions: SessionFactory
) -> None:
    bundle = await make_bundle()
    await import_bundle(runtime=backend_runtime, source=bundle)

    with pytest.raises(Conflict, match=r"Release 2\.3\.0 is here already"):
        await import_bundle(runtime=backend_runtime, source=bundle)

    async with backend_sessions() as session:
        assert len((await session.exec(select(ScheduledDeployment))).all()) == 1


async def run(*arguments: str) -> Result:
    """Invoke the command in a thread: it runs its own event loop, as from a terminal."""
    return await asyncio.to_thread(CliRunner().invoke, backend_cli, list(arguments))


async def test_the_import_command_takes_a_bundle_in_and_refuses_a_bad_one(
    backend_command_environment: Settings,
    make_bundle: BundleMaker,
    backend_sessions: SessionFactory,
    tmp_path: Path,
) -> None:
    # the command reads the system clock: the bundle is signed on it
    bundle = await make_bundle(clock=SystemClock())
    bad = rewrite_bundle(bundle, tmp_path / "bad.tar", drop={HELM_MEMBER})

    refused = await run("release", "import", str(bad))
    imported = await run("release", "import", str(bundle))

    assert refused.exit_code == 1
    assert f"The bundle lacks {HELM_MEMBER}" in refused.output
    assert imported.exit_code == 0, imported.output
    assert "imported 2.3.0: deployment" in imported.output
    async with backend_sessions() as session:
        deployment = (await session.exec(select(ScheduledDeployment))).one()
    assert deployment.chart_downloaded is True


async def test_a_manifest_expiring_while_the_artifact_streams_in_leaves_nothing(
    make_bundle: BundleMaker,
    backend_runtime: Runtime,
    backend_sessions: SessionFactory,
    customer_bucket: tuple[Any, str],
    gcc_clock: ManualClock,
    gcc_settings: GccSettings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bundle = await make_bundle()
    store = backend_runtime.object_store
    put_stream = store.put_stream

    async def slow_put_stream(key: str, chunks: Any, **options: Any) -> Any:
        stored = await put_stream(key, chunks, **options)
        gcc_clock.advance(gcc_settings.manifest_validity)  # the upload took that long
        return stored

    monkeypatch.setattr(store, "put_stream", slow_put_stream)

    with pytest.raises(ServiceError, match=r"refused \(expired\)"):
        await import_bundle(runtime=backend_runtime, source=bundle)

    await stored_nothing(backend_sessions, customer_bucket)
