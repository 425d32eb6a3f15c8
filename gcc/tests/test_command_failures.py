"""`gcc` commands fail in one or two lines that name the setting at fault, never a traceback."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

import pytest
from click.testing import Result
from typer.testing import CliRunner

from gcc.cli import app
from gcc.settings import get_settings
from wrktalk_testing.postgres import PostgresServer


@pytest.fixture(autouse=True)
def restored_logging() -> Iterator[None]:
    """``migrate`` and ``serve`` configure logging onto the runner's stream, closed after."""
    root = logging.getLogger()
    handlers = list(root.handlers)
    yield
    root.handlers[:] = handlers


async def run_with_database(
    monkeypatch: pytest.MonkeyPatch, database_url: str, *arguments: str
) -> Result:
    monkeypatch.setenv("GCC_DATABASE_URL", database_url)
    get_settings.cache_clear()
    try:
        return await asyncio.to_thread(CliRunner().invoke, app, list(arguments))
    finally:
        get_settings.cache_clear()


def assert_one_line(result: Result, exit_code: int, *fragments: str) -> None:
    assert result.exit_code == exit_code, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.mark.parametrize("command", [["org", "list"], ["org", "show", "acme"], ["migrate"]])
async def test_a_database_that_does_not_exist_is_named_with_what_to_do(
    monkeypatch: pytest.MonkeyPatch, postgres_server: PostgresServer, command: list[str]
) -> None:
    url = postgres_server.database_url("wrktalk_test_never_created")

    result = await run_with_database(monkeypatch, url, *command)

    assert_one_line(
        result,
        2,
        "database wrktalk_test_never_created does not exist",
        "GCC_DATABASE_URL",
        "gcc migrate",
    )


@pytest.mark.parametrize("command", [["org", "list"], ["migrate"]])
async def test_a_wrong_port_says_the_server_cannot_be_reached(
    monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    url = "postgresql+asyncpg://postgres@127.0.0.1:1/gcc"

    result = await run_with_database(monkeypatch, url, *command)

    assert_one_line(result, 2, "cannot connect", "GCC_DATABASE_URL")


@pytest.mark.parametrize("command", [["org", "list"], ["migrate"], ["serve"]])
async def test_a_malformed_url_is_named(
    monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    result = await run_with_database(monkeypatch, "not a url", *command)

    assert_one_line(result, 2, "GCC_DATABASE_URL is not a database URL", "postgresql+asyncpg://")


@pytest.mark.parametrize("command", [["org", "list"], ["migrate"]])
async def test_a_url_without_asyncpg_says_which_driver_to_name(
    monkeypatch: pytest.MonkeyPatch, postgres_server: PostgresServer, command: list[str]
) -> None:
    url = postgres_server.database_url("gcc", driver="postgresql")

    result = await run_with_database(monkeypatch, url, *command)

    assert_one_line(result, 2, "GCC_DATABASE_URL must name the asyncpg driver")


async def test_a_database_not_migrated_says_to_run_migrate(
    monkeypatch: pytest.MonkeyPatch, postgres_server: PostgresServer
) -> None:
    url = postgres_server.create_database("unmigrated")

    result = await run_with_database(monkeypatch, url, "org", "list")

    assert_one_line(result, 2, "has no tables yet", "gcc migrate")


async def test_debug_shows_the_traceback_instead(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    result = await run_with_database(monkeypatch, "not a url", "--debug", "org", "list")

    assert result.exit_code != 0
    assert result.exception is not None
    assert "GCC_DATABASE_URL" not in result.stderr
