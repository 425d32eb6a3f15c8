"""`customer-backend config …` against the backend's database and bucket, checked against the
served Control Tower API."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import Result
from typer.testing import CliRunner

from customer_backend.cli import app
from customer_backend.settings import Settings
from servicekit.db import SessionFactory
from servicekit.output import LINE_WIDTH

pytestmark = pytest.mark.usefixtures("backend_command_environment")

SECRET_VALUES = "database:\n  url: postgres://wrktalk:s3cr3t-pw@db/wrktalk\n"


async def run(*arguments: str) -> Result:
    """Invoke ``customer-backend`` in a thread: it runs its own event loop, as from a terminal."""
    return await asyncio.to_thread(CliRunner().invoke, app, list(arguments))


async def test_config_alone_prints_the_effective_settings_masked(
    backend_command_environment: Settings, backend_sessions: SessionFactory
) -> None:
    result = await run("config")

    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    assert printed["database_url"] == backend_command_environment.database_url
    assert printed["agent_secret"] == "**********"


async def test_set_adds_then_changes_a_variable_that_get_list_and_the_api_show(
    backend_client: httpx.AsyncClient, admin_factory: Any
) -> None:
    admin = await admin_factory()

    added = await run(
        "config", "set", "FEATURE_X", "on", "--category", "feature", "--by", "ops@acme.example"
    )
    changed = await run("config", "set", "FEATURE_X", "off")
    value = await run("config", "get", "FEATURE_X")
    listed = await run("config", "list")
    as_json = await run("config", "list", "--json")
    api = await backend_client.get("/api/admin/config", headers=admin.headers)

    assert added.output.strip() == "added FEATURE_X"
    assert changed.output.strip() == "changed FEATURE_X"
    assert value.output == "off\n"
    [header, row] = listed.output.splitlines()
    assert header.split() == ["KEY", "VALUE", "CATEGORY", "UPDATED", "(UTC)", "BY"]
    assert row.split()[:3] == ["FEATURE_X", "off", "feature"]
    assert row.endswith("(command line)")
    assert all(len(line) <= LINE_WIDTH for line in listed.output.splitlines())
    assert json.loads(as_json.output) == api.json()


async def test_unset_removes_and_refusals_name_the_key(backend_sessions: SessionFactory) -> None:
    assert (await run("config", "set", "FEATURE_X", "on")).exit_code == 0

    removed = await run("config", "unset", "FEATURE_X")
    missing = await run("config", "get", "FEATURE_X")
    again = await run("config", "unset", "FEATURE_X")
    bad_key = await run("config", "set", "not a key", "x")

    assert removed.output.strip() == "removed FEATURE_X"
    for result in (missing, again):
        assert result.exit_code == 1
        assert result.stderr.strip() == (
            "error (key): There is no non-essential variable named FEATURE_X."
        )
    assert bad_key.exit_code == 2
    assert bad_key.stderr.startswith("error (key):")


async def test_essential_set_saves_a_revision_as_the_command_line_and_shows_keys_only(
    backend_client: httpx.AsyncClient, admin_factory: Any, tmp_path: Path
) -> None:
    admin = await admin_factory()
    values = tmp_path / "values.yaml"
    values.write_text(SECRET_VALUES)

    saved = await run("config", "essential-set", str(values), "--by", "vendor@wrktalk.example")
    shown = await run("config", "essential")
    history = await run("config", "history")
    as_json = await run("config", "history", "--json")
    api = await backend_client.get("/api/admin/config/essential/revisions", headers=admin.headers)

    assert saved.exit_code == 0, saved.output
    assert saved.output.strip() == "essential configuration at revision 1: 1 keys"
    assert shown.output.splitlines()[1] == "keys: database.url"
    assert "s3cr3t" not in shown.output + history.output + as_json.output
    [header, row] = history.output.splitlines()
    assert header.split()[:3] == ["REV", "SAVED", "(UTC)"]
    assert row.split()[0] == "1"
    assert row.split()[3:] == ["vendor@wrktalk.example", "cli", "yes", "+database.url"]
    assert json.loads(as_json.output) == api.json()


async def test_essential_set_refuses_a_file_that_is_not_a_mapping(
    backend_sessions: SessionFactory, tmp_path: Path
) -> None:
    values = tmp_path / "values.yaml"
    values.write_text("- a list\n")

    result = await run("config", "essential-set", str(values))

    assert result.exit_code == 1
    [line] = result.stderr.splitlines()
    assert line.startswith("error (content):"), line
