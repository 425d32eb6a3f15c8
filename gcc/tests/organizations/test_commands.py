"""`gcc org add|list|show` against the test database, as an operator runs them in a terminal."""

from __future__ import annotations

import asyncio
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import Result
from sqlmodel import select
from typer.testing import CliRunner

from gcc.organizations.commands import API_KEY_FILE, WEBHOOK_SECRET_FILE, organizations_app
from gcc.organizations.models import Organization
from gcc.security import hash_api_key
from gcc.settings import Settings, get_settings
from servicekit.db import SessionFactory

ADD_ACME = [
    "add",
    "--name",
    "acme",
    "--deployment-type",
    "gitops",
    "--webhook-endpoint",
    "http://acme-api:3000/api/deployment/webhook",
    "--current-version",
    "1.0.0",
]


@pytest.fixture
def command_environment(
    gcc_settings: Settings, gcc_sessions: SessionFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """Point the command's settings (read from GCC_* variables) at the test database, emptied
    for each test."""
    monkeypatch.setenv("GCC_DATABASE_URL", gcc_settings.database_url)
    monkeypatch.setenv("GCC_ALLOW_HTTP_WEBHOOKS", "true")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


async def run(*arguments: str) -> Result:
    """Invoke the command in a thread: it runs its own event loop, as from a terminal."""
    return await asyncio.to_thread(CliRunner().invoke, organizations_app, list(arguments))


async def stored(gcc_sessions: SessionFactory, name: str) -> Organization:
    async with gcc_sessions() as session:
        return (await session.exec(select(Organization).where(Organization.name == name))).one()


def printed(result: Result, label: str) -> str:
    line = next(line for line in result.output.splitlines() if line.startswith(label))
    return line.split(":", 1)[1].strip()


async def test_add_prints_the_api_key_and_webhook_secret_once(
    command_environment: None, gcc_sessions: SessionFactory
) -> None:
    result = await run(*ADD_ACME)

    assert result.exit_code == 0, result.output
    organization = await stored(gcc_sessions, "acme")
    api_key = printed(result, "API key")
    assert organization.api_key_hash == hash_api_key(api_key)
    assert printed(result, "webhook secret") == organization.webhook_secret
    assert organization.deployment_type == "gitops"
    assert organization.current_version == "1.0.0"


async def test_add_writes_the_credentials_where_the_customer_backend_reads_them(
    command_environment: None, gcc_sessions: SessionFactory, tmp_path: Path
) -> None:
    credentials = tmp_path / "acme"

    result = await run(*ADD_ACME, "--credentials-dir", str(credentials))

    assert result.exit_code == 0, result.output
    organization = await stored(gcc_sessions, "acme")
    api_key = (credentials / API_KEY_FILE).read_text()
    assert organization.api_key_hash == hash_api_key(api_key)
    assert (credentials / WEBHOOK_SECRET_FILE).read_text() == organization.webhook_secret
    for name in (API_KEY_FILE, WEBHOOK_SECRET_FILE):
        assert stat.S_IMODE((credentials / name).stat().st_mode) == 0o600
    assert sorted(path.name for path in credentials.iterdir()) == sorted(
        [API_KEY_FILE, WEBHOOK_SECRET_FILE]
    )


async def test_add_if_absent_leaves_an_existing_organization_and_its_files_alone(
    command_environment: None, gcc_sessions: SessionFactory, tmp_path: Path
) -> None:
    credentials = tmp_path / "acme"
    first = await run(*ADD_ACME, "--credentials-dir", str(credentials), "--if-absent")
    assert first.exit_code == 0, first.output
    api_key = (credentials / API_KEY_FILE).read_text()

    again = await run(*ADD_ACME, "--credentials-dir", str(credentials), "--if-absent")

    assert again.exit_code == 0, again.output
    assert "exists already; nothing changed" in again.output
    assert (credentials / API_KEY_FILE).read_text() == api_key
    assert (await stored(gcc_sessions, "acme")).api_key_hash == hash_api_key(api_key)


async def test_add_if_absent_fails_when_the_credentials_are_lost(
    command_environment: None, tmp_path: Path
) -> None:
    assert (await run(*ADD_ACME)).exit_code == 0

    result = await run(*ADD_ACME, "--credentials-dir", str(tmp_path / "empty"), "--if-absent")

    assert result.exit_code == 1
    assert API_KEY_FILE in result.output
    assert "not stored anywhere else" in result.output


async def test_add_of_an_existing_organization_is_refused(command_environment: None) -> None:
    assert (await run(*ADD_ACME)).exit_code == 0

    result = await run(*ADD_ACME)

    assert result.exit_code == 1
    assert "acme" in result.output


async def test_add_with_a_bad_version_names_the_field(command_environment: None) -> None:
    result = await run(*ADD_ACME[:-1], "one.zero")

    assert result.exit_code == 2
    assert "currentVersion" in result.output


async def test_list_and_show_print_the_organization_without_secrets(
    command_environment: None,
) -> None:
    added = await run(*ADD_ACME)
    api_key = printed(added, "API key")
    secret = printed(added, "webhook secret")

    listed = await run("list")
    shown = await run("show", "acme")

    assert listed.exit_code == 0, listed.output
    assert "acme" in listed.output
    assert "organizations 1-1 of 1" in listed.output
    assert shown.exit_code == 0, shown.output
    assert '"name": "acme"' in shown.output
    for output in (listed.output, shown.output):
        assert api_key not in output
        assert secret not in output


async def test_update_rotate_secret_and_fleet_use_the_operator_services(
    command_environment: None, gcc_sessions: SessionFactory
) -> None:
    from gcc.cli import app

    assert (await run(*ADD_ACME)).exit_code == 0
    before = (await stored(gcc_sessions, "acme")).webhook_secret

    updated = await run("update", "acme", "--spoc-name", "Ada")
    rotated = await run("rotate-secret", "acme", "--json")
    fleet = await asyncio.to_thread(CliRunner().invoke, app, ["fleet", "--version", "1.0.0"])
    unknown = await run("rotate-secret", "nobody")
    nothing = await run("update", "acme")

    assert updated.exit_code == 0, updated.output
    assert '"spocName": "Ada"' in updated.output
    assert rotated.exit_code == 0, rotated.output
    assert (await stored(gcc_sessions, "acme")).previous_webhook_secret == before
    assert fleet.exit_code == 0, fleet.output
    assert "1 organizations" in fleet.output
    assert "acme" in fleet.output
    assert all(len(line) <= 100 for line in fleet.output.splitlines())
    assert unknown.exit_code == 1
    assert "error (name): There is no organization named 'nobody'." in unknown.stderr
    assert nothing.exit_code == 2


async def test_ring_places_the_organization_and_refuses_an_unknown_ring(
    command_environment: None, gcc_sessions: SessionFactory
) -> None:
    assert (await run(*ADD_ACME)).exit_code == 0

    placed = await run("ring", "acme", "early")
    unknown = await run("ring", "acme", "beta")

    assert placed.exit_code == 0, placed.output
    assert "acme is in ring early" in placed.output
    assert (await stored(gcc_sessions, "acme")).ring == "early"
    assert unknown.exit_code == 1
    assert "error (ring)" in unknown.stderr
