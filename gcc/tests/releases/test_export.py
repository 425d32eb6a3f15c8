"""`gcc release export`: the offline bundle of a published release, for one organization."""

from __future__ import annotations

import asyncio
import hashlib
import json
import tarfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import Result
from typer.testing import CliRunner

from contracts import (
    SignedManifest,
)
from contracts.bundles import (
    BUNDLE_MANIFEST,
    BUNDLE_RELEASE,
    BUNDLE_RELEASE_SIGNATURE,
    BUNDLE_SUMMARY,
    BundleDocumentSignature,
    bundle_artifact_name,
)
from gcc.releases.commands import releases_app
from gcc.settings import Settings, get_settings
from signing import TrustedKeys, verify_document, verify_manifest
from testsupport.manifest_keys import TEST_PUBLIC_KEY, TEST_SIGNING_KEY

ReadyRelease = Callable[..., Awaitable[None]]
ReleaseMaker = Callable[..., Awaitable[httpx.Response]]
OrganizationFactory = Callable[..., Awaitable[Any]]
TRUSTED = TrustedKeys.from_texts([TEST_PUBLIC_KEY])


@pytest.fixture
def gcc_command_environment(
    gcc_command_environment: None, gcc_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The commands' environment, with GCC's manifest signing key."""
    monkeypatch.setenv("GCC_MANIFEST_SIGNING_KEYS", str(gcc_settings.manifest_signing_keys))
    get_settings.cache_clear()


async def run(*arguments: str) -> Result:
    """Invoke the command in a thread: it runs its own event loop, as from a terminal."""
    return await asyncio.to_thread(CliRunner().invoke, releases_app, list(arguments))


def members(path: Path) -> dict[str, bytes]:
    with tarfile.open(path) as archive:
        return {
            info.name: archive.extractfile(info).read()  # type: ignore[union-attr]
            for info in archive
            if info.isfile()
        }


async def test_export_writes_the_manifest_signed_for_the_organization_the_artifacts_and_a_summary(
    gcc_command_environment: None,
    ready_release: ReadyRelease,
    publish: ReleaseMaker,
    organization_factory: OrganizationFactory,
    gcc_client: httpx.AsyncClient,
    gcc_settings: Settings,
    tmp_path: Path,
) -> None:
    customer = await organization_factory("acme")
    await ready_release("2.3.0", compose=True, releaseNotes="Faster search")
    await publish("2.3.0")
    bundle = tmp_path / "bundle.tar"

    result = await run("export", "2.3.0", "--org", "acme", "-o", str(bundle))

    assert result.exit_code == 0, result.output
    files = members(bundle)
    signed = SignedManifest.model_validate_json(files[BUNDLE_MANIFEST])
    # the command reads the system clock, not the tests' clock
    manifest = verify_manifest(signed, TRUSTED, now=signed.manifest.issued_at)
    assert manifest.expires_at - manifest.issued_at == gcc_settings.manifest_validity
    assert manifest.organization == "acme"
    assert manifest.key_id == TEST_SIGNING_KEY.key_id
    artifact_names = {bundle_artifact_name(item): item for item in manifest.artifacts}
    assert set(files) == {
        BUNDLE_MANIFEST,
        BUNDLE_RELEASE,
        BUNDLE_RELEASE_SIGNATURE,
        BUNDLE_SUMMARY,
        *artifact_names,
    }
    signature = BundleDocumentSignature.model_validate_json(files[BUNDLE_RELEASE_SIGNATURE])
    verify_document(files[BUNDLE_RELEASE], signature, TRUSTED)
    for name, item in artifact_names.items():
        assert hashlib.sha256(files[name]).hexdigest() == item.sha256
        assert len(files[name]) == item.size_bytes
    downloaded = await gcc_client.get("/api/artifacts/charts/2.3.0", headers=customer.headers)
    assert files["artifacts/helm/wrktalk-2.3.0.tgz"] == downloaded.content
    release = json.loads(files[BUNDLE_RELEASE])
    assert "manifest" not in release
    assert release["release"]["id"] == str(manifest.release_id)
    assert release["ruleset"]["releaseNotes"] == "Faster search"
    summary = files[BUNDLE_SUMMARY].decode()
    assert "WrkTalk release bundle: 2.3.0" in summary
    assert "Organization:      acme" in summary
    assert "Faster search" in summary
    assert f"wrote {bundle}" in result.output
    assert not [path.name for path in tmp_path.iterdir() if path.name != "bundle.tar"]


async def test_a_draft_is_not_exported_and_nothing_is_written(
    gcc_command_environment: None,
    ready_release: ReadyRelease,
    organization_factory: OrganizationFactory,
    tmp_path: Path,
) -> None:
    await organization_factory("acme")
    await ready_release("2.3.0")

    result = await run("export", "2.3.0", "--org", "acme", "-o", str(tmp_path / "bundle.tar"))

    assert result.exit_code == 1
    assert "is a draft; publish it before exporting it" in result.output
    assert list(tmp_path.iterdir()) == []


async def test_an_unknown_organization_is_refused(
    gcc_command_environment: None,
    ready_release: ReadyRelease,
    publish: ReleaseMaker,
    tmp_path: Path,
) -> None:
    await ready_release("2.3.0")
    await publish("2.3.0")

    result = await run("export", "2.3.0", "--org", "nobody", "-o", str(tmp_path / "bundle.tar"))

    assert result.exit_code == 1
    assert "There is no organization named 'nobody'" in result.output
    assert list(tmp_path.iterdir()) == []


async def test_a_release_targeted_at_others_is_not_exported_for_an_organization_outside_them(
    gcc_command_environment: None,
    ready_release: ReadyRelease,
    publish: ReleaseMaker,
    organization_factory: OrganizationFactory,
    tmp_path: Path,
) -> None:
    await organization_factory("acme")
    await organization_factory("initech")
    await ready_release("2.3.0", targets=["initech"])
    await publish("2.3.0")

    result = await run("export", "2.3.0", "--org", "acme", "-o", str(tmp_path / "bundle.tar"))

    assert result.exit_code == 1
    assert "targeted at other organizations, not acme" in result.output
    assert list(tmp_path.iterdir()) == []
