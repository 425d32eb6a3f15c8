"""The Releases page's bundle upload form in a real Chromium: an admin imports a bundle
exported by the GCC under test; a bad bundle is a sentence next to the field; only an admin,
with the session's CSRF token, may post it."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import httpx
import pytest
from playwright.async_api import expect
from sqlmodel import select

from consolekit.csrf import csrf_token
from customer_backend.console.web import SESSION_COOKIE
from customer_backend.deployments.models import ScheduledDeployment
from gcc.settings import Settings as GccSettings
from servicekit.db import SessionFactory
from testsupport.backend_fixtures import BACKEND_ORGANIZATION
from testsupport.bundles import export_bundle, rewrite_bundle
from timekeeping import ManualClock

from .conftest import SignIn

HELM_MEMBER = "artifacts/helm/wrktalk-2.3.0.tgz"


def _chart(version: str) -> bytes:
    data = f"apiVersion: v2\nname: wrktalk\nversion: {version}\n".encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo("wrktalk/Chart.yaml")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.fixture
async def bundle(
    console: str,
    gcc_client: httpx.AsyncClient,
    ci_headers: dict[str, str],
    gcc_settings: GccSettings,
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
    tmp_path: Path,
) -> Path:
    """Release 2.3.0 published at GCC and exported for this backend's organization."""
    for response in (
        await gcc_client.post(
            "/api/internal/artifacts",
            files={"file": ("chart.tgz", _chart("2.3.0"))},
            data={"type": "helm", "version": "2.3.0"},
            headers=ci_headers,
        ),
        await gcc_client.post(
            "/api/internal/releases",
            json={
                "version": "2.3.0",
                "imageTags": {"backend": "b", "media": "m", "controlTower": "c", "agent": "a"},
            },
            headers=ci_headers,
        ),
        await gcc_client.post("/api/internal/releases/2.3.0/publish", headers=ci_headers),
    ):
        assert response.status_code == 200, response.text
    output = tmp_path / "wrktalk-2.3.0.tar"
    await export_bundle(
        gcc_settings=gcc_settings,
        gcc_sessions=gcc_sessions,
        clock=gcc_clock,
        version="2.3.0",
        organization=BACKEND_ORGANIZATION,
        output=output,
    )
    return output


async def _deployments(sessions: SessionFactory) -> list[ScheduledDeployment]:
    async with sessions() as session:
        return list((await session.exec(select(ScheduledDeployment))).all())


async def test_an_admin_imports_a_bundle_and_a_bad_one_is_a_sentence_next_to_the_field(
    sign_in: SignIn,
    bundle: Path,
    backend_sessions: SessionFactory,
    tmp_path: Path,
) -> None:
    bad = rewrite_bundle(bundle, tmp_path / "bad.tar", drop={HELM_MEMBER})
    page = await sign_in()
    await page.get_by_role("link", name="Releases").click()

    await page.get_by_label("Bundle file").set_input_files(str(bad))
    await page.get_by_role("button", name="Import").click()
    await expect(page.get_by_role("alert")).to_contain_text(f"The bundle lacks {HELM_MEMBER}")
    assert await _deployments(backend_sessions) == []

    await page.get_by_label("Bundle file").set_input_files(str(bundle))
    await page.get_by_role("button", name="Import").click()
    await expect(page.get_by_role("status")).to_contain_text("Release 2.3.0 was imported")
    await expect(page.get_by_label("Deploy 2.3.0 at")).to_be_visible()
    [deployment] = await _deployments(backend_sessions)
    assert deployment.chart_downloaded is True


@pytest.mark.parametrize("role", ["viewer", "support"])
async def test_only_an_admin_may_import(
    role: str,
    sign_in: SignIn,
    console: str,
    bundle: Path,
    context,  # type: ignore[no-untyped-def]
    backend_sessions: SessionFactory,
) -> None:
    page = await sign_in(f"{role}@acme.example", role=role)
    await page.get_by_role("link", name="Releases").click()
    await expect(page.get_by_role("heading", name="Releases")).to_be_visible()
    await expect(page.get_by_label("Bundle file")).to_have_count(0)
    session = next(c for c in await context.cookies() if c["name"] == SESSION_COOKIE)["value"]
    async with httpx.AsyncClient(cookies={SESSION_COOKIE: session}) as client:
        response = await client.post(
            f"{console}/releases/import",
            data={"csrf_token": csrf_token(session)},
            files={"bundle": ("bundle.tar", bundle.read_bytes())},
        )
    assert response.status_code == 403
    assert await _deployments(backend_sessions) == []


async def test_an_upload_without_the_sessions_token_is_refused(
    sign_in: SignIn,
    console: str,
    bundle: Path,
    context,  # type: ignore[no-untyped-def]
    backend_sessions: SessionFactory,
) -> None:
    await sign_in()
    session = next(c for c in await context.cookies() if c["name"] == SESSION_COOKIE)["value"]
    async with httpx.AsyncClient(cookies={SESSION_COOKIE: session}) as client:
        for data in ({}, {"csrf_token": csrf_token("another-session-token")}):
            response = await client.post(
                f"{console}/releases/import",
                data=data,
                files={"bundle": ("bundle.tar", bundle.read_bytes())},
            )
            assert response.status_code == 403
            assert "This form was refused" in response.text
    assert await _deployments(backend_sessions) == []
