"""GCC signs each release's manifest at publish and sends it with the updates poll and the
artifact download, signed afresh when it is half expired or the signing key changed."""

from __future__ import annotations

import asyncio
import stat
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import select
from typer.testing import CliRunner

from contracts import MANIFEST_HEADER, ArtifactType, SignedManifest, UpdatesPollResponse
from gcc.releases.key_commands import keys_app
from gcc.releases.manifests import ManifestSigner, current_manifest, load_signer
from gcc.releases.models import Release
from gcc.settings import Settings
from servicekit.db import SessionFactory
from signing import TrustedKeys, decode_header, load_signing_keys, verify_manifest
from testsupport.gcc_fixtures import CLOCK_START
from testsupport.manifest_keys import (
    OTHER_SIGNING_KEY,
    TEST_PUBLIC_KEY,
    TEST_SIGNING_KEY,
    write_key,
)
from timekeeping import ManualClock

ReleaseMaker = Callable[..., Awaitable[httpx.Response]]
ReadyRelease = Callable[..., Awaitable[None]]
OrganizationFactory = Callable[..., Awaitable[Any]]
TRUSTED = TrustedKeys.from_texts([TEST_PUBLIC_KEY])


async def _stored(sessions: SessionFactory, version: str) -> Release:
    async with sessions() as session:
        return (await session.exec(select(Release).where(Release.version == version))).one()


async def test_publish_signs_the_manifest_of_the_release_and_stores_it(
    ready_release: ReadyRelease,
    publish: ReleaseMaker,
    gcc_sessions: SessionFactory,
    gcc_settings: Settings,
) -> None:
    await ready_release("2.3.0", compose=True, isForced=True, minCurrentVersion="2.0.0")
    published = (await publish("2.3.0")).json()

    release = await _stored(gcc_sessions, "2.3.0")
    signed = SignedManifest.model_validate(release.signed_manifest)
    manifest = verify_manifest(signed, TRUSTED, now=CLOCK_START)
    assert str(manifest.release_id) == published["id"]
    assert str(manifest.version) == "2.3.0"
    assert [str(kind) for kind in manifest.deployment_types] == ["docker", "gitops", "kubernetes"]
    assert [(item.type, item.object_name) for item in manifest.artifacts] == [
        (ArtifactType.COMPOSE, "charts/compose/wrktalk-2.3.0-compose.tar.gz"),
        (ArtifactType.HELM, "charts/helm/wrktalk-2.3.0.tgz"),
    ]
    assert all(item.size_bytes > 0 for item in manifest.artifacts)
    assert manifest.image_tags == release.image_tags
    assert manifest.is_forced is True
    assert manifest.forced_deadline == CLOCK_START + gcc_settings.forced_deadline
    assert str(manifest.min_current_version) == "2.0.0"
    assert manifest.organization is None
    assert (manifest.issued_at, manifest.expires_at) == (
        CLOCK_START,
        CLOCK_START + gcc_settings.manifest_validity,
    )
    assert manifest.key_id == TEST_SIGNING_KEY.key_id


async def test_the_updates_poll_and_the_download_carry_the_signed_manifest(
    ready_release: ReadyRelease,
    publish: ReleaseMaker,
    organization_factory: OrganizationFactory,
    gcc_client: httpx.AsyncClient,
) -> None:
    customer = await organization_factory()
    await ready_release("2.3.0")
    await publish("2.3.0")

    polled = await gcc_client.get(
        f"/api/v1/organizations/{customer.organization.name}/updates", headers=customer.headers
    )
    downloaded = await gcc_client.get("/api/artifacts/charts/2.3.0", headers=customer.headers)

    [body] = UpdatesPollResponse.model_validate_json(polled.content).releases
    assert body.manifest is not None
    manifest = verify_manifest(body.manifest, TRUSTED, now=CLOCK_START)
    assert manifest.release_id == body.release.id
    assert downloaded.status_code == 200
    from_header = decode_header(downloaded.headers[MANIFEST_HEADER])
    assert from_header == body.manifest
    [helm] = manifest.artifacts
    assert (helm.sha256, helm.size_bytes) == (
        downloaded.headers["X-Sha256"],
        len(downloaded.content),
    )


async def test_a_manifest_is_signed_afresh_once_half_its_validity_is_gone(
    ready_release: ReadyRelease,
    publish: ReleaseMaker,
    gcc_sessions: SessionFactory,
    gcc_settings: Settings,
    gcc_clock: ManualClock,
) -> None:
    await ready_release("2.3.0")
    await publish("2.3.0")
    release = await _stored(gcc_sessions, "2.3.0")
    signer = ManifestSigner(key=TEST_SIGNING_KEY, validity=gcc_settings.manifest_validity)
    stored = SignedManifest.model_validate(release.signed_manifest)

    early = CLOCK_START + gcc_settings.manifest_validity / 4
    late = CLOCK_START + gcc_settings.manifest_validity * 3 / 4

    assert current_manifest(release, signer=signer, now=early) == stored
    fresh = current_manifest(release, signer=signer, now=late)
    assert fresh is not None
    assert fresh.manifest.issued_at == late.replace(microsecond=0)
    assert verify_manifest(fresh, TRUSTED, now=late + timedelta(days=1))
    assert (
        fresh.manifest.model_copy(
            update={"issued_at": CLOCK_START, "expires_at": stored.manifest.expires_at}
        )
        == stored.manifest
    )


async def test_after_a_key_rotation_every_manifest_sent_is_signed_with_the_new_key(
    ready_release: ReadyRelease,
    publish: ReleaseMaker,
    gcc_sessions: SessionFactory,
    gcc_settings: Settings,
) -> None:
    await ready_release("2.3.0")
    await publish("2.3.0")
    release = await _stored(gcc_sessions, "2.3.0")
    signer = ManifestSigner(key=OTHER_SIGNING_KEY, validity=gcc_settings.manifest_validity)

    sent = current_manifest(release, signer=signer, now=CLOCK_START)

    assert sent is not None
    assert sent.manifest.key_id == OTHER_SIGNING_KEY.key_id
    trusted = TrustedKeys.from_texts([OTHER_SIGNING_KEY.public_text()])
    assert verify_manifest(sent, trusted, now=CLOCK_START).release_id == release.id


async def test_without_a_signing_key_a_release_is_published_unsigned(
    ready_release: ReadyRelease,
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
) -> None:
    from gcc.audit.service import Actor
    from gcc.releases.service import publish_release

    await ready_release("2.3.0")
    async with gcc_sessions() as session:
        await publish_release(
            session,
            clock=gcc_clock,
            actor=Actor.ci_token(),
            version_text="2.3.0",
            send_task=lambda *_: None,
            signer=None,
        )
        await session.commit()

    assert (await _stored(gcc_sessions, "2.3.0")).signed_manifest is None


def test_the_signer_takes_the_named_key_of_a_secret_directory(tmp_path: Path) -> None:
    write_key(TEST_SIGNING_KEY, tmp_path)
    write_key(OTHER_SIGNING_KEY, tmp_path)
    settings = Settings(manifest_signing_keys=tmp_path)

    chosen = load_signer(
        settings.model_copy(update={"manifest_signing_key_id": OTHER_SIGNING_KEY.key_id})
    )

    assert chosen is not None
    assert chosen.key.key_id == OTHER_SIGNING_KEY.key_id
    with pytest.raises(ValueError, match="none of the keys"):
        load_signer(settings.model_copy(update={"manifest_signing_key_id": "f" * 16}))
    assert load_signer(Settings()) is None


async def test_keys_generate_writes_a_private_key_only_its_owner_reads(tmp_path: Path) -> None:
    result = await asyncio.to_thread(
        CliRunner().invoke, keys_app, ["generate", "--out", str(tmp_path)]
    )

    assert result.exit_code == 0, result.output
    [written] = list(tmp_path.iterdir())
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    [key] = load_signing_keys(written)
    assert f"key id:      {key.key_id}" in result.output
    assert f"public key:  {key.public_text()}" in result.output
    shown = await asyncio.to_thread(CliRunner().invoke, keys_app, ["show", str(tmp_path)])
    assert shown.output.strip() == f"{key.key_id} {key.public_text()}"
