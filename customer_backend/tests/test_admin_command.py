"""`customer-backend admin add|list|deactivate` as a setup script or an operator runs them, and
settings read from a secrets directory."""

from __future__ import annotations

import asyncio
import json
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import Result
from typer.testing import CliRunner

from customer_backend.cli import app
from customer_backend.settings import Settings, get_settings
from servicekit.db import SessionFactory


@pytest.fixture
def command_environment(
    backend_settings: Settings, backend_sessions: SessionFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """Point the command at the test database, emptied for each test."""
    monkeypatch.setenv("WRKTALK_DATABASE_URL", backend_settings.database_url)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


async def run(*arguments: str) -> Result:
    """Invoke the command in a thread: it runs its own event loop, as from a terminal."""
    return await asyncio.to_thread(CliRunner().invoke, app, list(arguments))


ADD_ADMIN = ["admin", "add", "--email", "Ops@Acme.example", "--name", "Ops"]


async def releases_as(backend_client: httpx.AsyncClient, token: str) -> int:
    response = await backend_client.get(
        "/api/admin/deployment/releases", headers={"Authorization": f"Bearer {token}"}
    )
    return response.status_code


async def test_admin_add_prints_a_token_that_opens_the_control_tower(
    command_environment: None, backend_client: httpx.AsyncClient
) -> None:
    result = await run(*ADD_ADMIN)

    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    assert await releases_as(backend_client, token) == 200
    listed = await run("admin", "list")
    [header, row] = listed.output.splitlines()
    assert header.split() == ["EMAIL", "NAME", "ROLE", "STATE"]
    assert row.split() == ["ops@acme.example", "Ops", "admin", "active"]
    assert token not in listed.output


async def test_admin_add_writes_the_token_file_once(
    command_environment: None, backend_client: httpx.AsyncClient, tmp_path: Path
) -> None:
    token_file = tmp_path / "handoff" / "acme-admin-token"

    first = await run(*ADD_ADMIN, "--token-file", str(token_file), "--if-absent")
    again = await run(*ADD_ADMIN, "--token-file", str(token_file), "--if-absent")

    assert first.exit_code == 0, first.output
    token = token_file.read_text()
    assert first.output.strip().splitlines()[-1] == token
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert again.exit_code == 0, again.output
    assert "exists already; nothing changed" in again.output
    assert token_file.read_text() == token
    assert await releases_as(backend_client, token) == 200


async def test_admin_add_if_absent_fails_when_the_token_file_is_lost(
    command_environment: None, tmp_path: Path
) -> None:
    assert (await run(*ADD_ADMIN)).exit_code == 0

    result = await run(*ADD_ADMIN, "--token-file", str(tmp_path / "gone"), "--if-absent")

    assert result.exit_code == 1
    assert "not stored anywhere else" in result.output


async def test_admin_add_of_an_existing_email_is_refused(command_environment: None) -> None:
    assert (await run(*ADD_ADMIN)).exit_code == 0

    result = await run(*ADD_ADMIN)

    assert result.exit_code == 1
    assert "exists already" in result.output


async def test_admin_add_with_the_support_role_may_change_the_essential_configuration(
    command_environment: None, backend_client: httpx.AsyncClient
) -> None:
    support = await run(*ADD_ADMIN, "--role", "support")
    admin = await run("admin", "add", "--email", "it@acme.example", "--name", "IT")

    assert support.exit_code == 0, support.output
    assert "created admin ops@acme.example (support)" in support.output
    statuses = []
    for result in (support, admin):
        token = result.output.strip().splitlines()[-1]
        response = await backend_client.put(
            "/api/admin/config/essential",
            json={"content": "host: a\n"},
            headers={"Authorization": f"Bearer {token}"},
        )
        statuses.append(response.status_code)
    assert statuses == [200, 403]
    listed = await run("admin", "list")
    assert ["ops@acme.example", "Ops", "support", "active"] in [
        line.split() for line in listed.output.splitlines()
    ]
    as_json = await run("admin", "list", "--json")
    assert {"email": "ops@acme.example", "name": "Ops", "role": "support", "isActive": True} in (
        json.loads(as_json.output)["admins"]
    )


async def test_admin_add_with_an_unknown_role_is_refused(command_environment: None) -> None:
    result = await run(*ADD_ADMIN, "--role", "root")

    assert result.exit_code == 1
    assert "'root' is not a role; the roles are admin, support" in result.output
    assert "ops@acme.example" not in (await run("admin", "list")).output


async def test_deactivated_admin_token_no_longer_opens_the_control_tower(
    command_environment: None, backend_client: httpx.AsyncClient
) -> None:
    token = (await run(*ADD_ADMIN)).output.strip().splitlines()[-1]

    result = await run("admin", "deactivate", "ops@acme.example")

    assert result.exit_code == 0, result.output
    assert await releases_as(backend_client, token) == 401


def test_settings_read_secret_files_from_the_secrets_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "wrktalk_gcc_api_key").write_text("gcc_from_file")
    (tmp_path / "wrktalk_webhook_secret").write_text("whsec_ZmlsZQ==")
    monkeypatch.setenv("WRKTALK_SECRETS_DIR", str(tmp_path))
    monkeypatch.delenv("WRKTALK_GCC_API_KEY", raising=False)
    monkeypatch.setenv("WRKTALK_WEBHOOK_SECRET", "whsec_ZW52aXJvbm1lbnQ=")
    get_settings.cache_clear()
    try:
        settings = get_settings()
    finally:
        get_settings.cache_clear()

    assert settings.gcc_api_key.get_secret_value() == "gcc_from_file"
    # an environment variable wins over the file
    assert [secret.get_secret_value() for secret in settings.webhook_secret] == [
        "whsec_ZW52aXJvbm1lbnQ="
    ]


def test_a_secrets_directory_that_does_not_exist_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WRKTALK_SECRETS_DIR", str(tmp_path / "missing"))
    get_settings.cache_clear()
    try:
        with pytest.raises(ValueError, match="WRKTALK_SECRETS_DIR"):
            get_settings()
    finally:
        get_settings.cache_clear()
