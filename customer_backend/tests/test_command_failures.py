"""`customer-backend` commands fail in one line naming the setting at fault."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from click.testing import Result
from typer.testing import CliRunner

from customer_backend.cli import app
from customer_backend.settings import get_settings
from wrktalk_testing.postgres import PostgresServer


async def run_with_database(
    monkeypatch: pytest.MonkeyPatch, database_url: str, *arguments: str
) -> Result:
    monkeypatch.setenv("WRKTALK_DATABASE_URL", database_url)
    get_settings.cache_clear()
    try:
        return await asyncio.to_thread(CliRunner().invoke, app, list(arguments))
    finally:
        get_settings.cache_clear()


ADMIN_COMMANDS = [
    ["admin", "list"],
    ["releases"],
    ["deployments", "list"],
    ["deployments", "logs", "00000000-0000-0000-0000-000000000000"],
    ["config", "list"],
    ["config", "history"],
    ["agent", "status"],
    ["maintenance", "status"],
]


@pytest.mark.parametrize("command", ADMIN_COMMANDS)
@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("not a url", "WRKTALK_DATABASE_URL is not a database URL"),
        ("postgresql+asyncpg://postgres@127.0.0.1:1/backend", "cannot connect"),
        ("postgresql://postgres@127.0.0.1:5432/backend", "must name the asyncpg driver"),
    ],
)
async def test_admin_commands_name_the_setting_at_fault(
    monkeypatch: pytest.MonkeyPatch, url: str, expected: str, command: list[str]
) -> None:
    result = await run_with_database(monkeypatch, url, *command)

    assert result.exit_code == 2
    assert len(result.stderr.splitlines()) == 1
    assert expected in result.stderr
    assert "WRKTALK_DATABASE_URL" in result.stderr


@pytest.mark.parametrize("command", ADMIN_COMMANDS)
async def test_a_missing_database_says_to_create_it_and_migrate(
    monkeypatch: pytest.MonkeyPatch, postgres_server: PostgresServer, command: list[str]
) -> None:
    url = postgres_server.database_url("wrktalk_test_never_created")

    result = await run_with_database(monkeypatch, url, *command)

    assert result.exit_code == 2
    assert "database wrktalk_test_never_created does not exist" in result.stderr
    assert "customer-backend migrate" in result.stderr


async def test_a_database_without_tables_says_to_migrate(
    monkeypatch: pytest.MonkeyPatch, create_postgres_database: Callable[[str], str]
) -> None:
    url = create_postgres_database("backend_unmigrated")

    result = await run_with_database(monkeypatch, url, "releases")

    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "error: the database of WRKTALK_DATABASE_URL has no tables yet: "
        "run `customer-backend migrate`"
    )


async def test_debug_shows_the_traceback_instead(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WRKTALK_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:1/x")
    get_settings.cache_clear()
    try:
        result = await asyncio.to_thread(CliRunner().invoke, app, ["--debug", "releases"])
    finally:
        get_settings.cache_clear()

    assert result.exit_code != 0
    assert isinstance(result.exception, OSError)
