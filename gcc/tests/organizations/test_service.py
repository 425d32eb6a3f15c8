"""Organization rules that depend on settings, and the `gcc org` commands."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from sqlmodel import select
from typer.testing import CliRunner, Result

from gcc.app import create_app
from gcc.cli import app as cli_app
from gcc.organizations.models import Organization
from gcc.security import hash_api_key
from gcc.settings import Settings, get_settings
from servicekit.db import SessionFactory, create_engine, create_session_factory
from timekeeping import ManualClock
from wrktalk_testing.servers import ServedApp


@pytest.fixture(scope="module")
def https_only_server(
    gcc_settings: Settings, gcc_clock_session: ManualClock, task_recorder_session: Any
) -> Iterator[ServedApp]:
    """The GCC served as in production: plain-http webhook endpoints are refused."""
    settings = gcc_settings.model_copy(update={"allow_http_webhooks": False})
    served = ServedApp(
        create_app(settings, clock=gcc_clock_session, send_task=task_recorder_session)
    )
    served.start()
    yield served
    served.stop()


def body(endpoint: str, name: str = "customer-x") -> dict[str, Any]:
    return {"name": name, "deploymentType": "docker", "webhookEndpoint": endpoint}


async def test_plain_http_endpoint_is_422_unless_allowed(
    https_only_server: ServedApp,
    gcc_sessions: SessionFactory,
    operator_headers: dict[str, str],
) -> None:
    async with httpx.AsyncClient(base_url=https_only_server.base_url) as client:
        refused = await client.post(
            "/api/operator/organizations",
            json=body("http://customer-x.example.com/hook"),
            headers=operator_headers,
        )
        accepted = await client.post(
            "/api/operator/organizations",
            json=body("https://customer-x.example.com/hook"),
            headers=operator_headers,
        )
        patched = await client.patch(
            "/api/operator/organizations/customer-x",
            json={"webhookEndpoint": "http://customer-x.example.com/hook"},
            headers=operator_headers,
        )

    assert refused.status_code == 422
    assert refused.json()["field"] == "webhookEndpoint"
    assert "https" in refused.json()["detail"]
    assert accepted.status_code == 201
    assert patched.status_code == 422
    assert patched.json()["field"] == "webhookEndpoint"


async def test_plain_http_endpoint_is_accepted_when_allowed(
    gcc_client: httpx.AsyncClient, operator_headers: dict[str, str]
) -> None:
    response = await gcc_client.post(
        "/api/operator/organizations",
        json=body("http://127.0.0.1:8080/api/deployment/webhook"),
        headers=operator_headers,
    )

    assert response.status_code == 201


@pytest.fixture
def gcc_cli(
    gcc_settings: Settings, gcc_sessions: SessionFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., Result]]:
    """Run `gcc ...` in-process against the test database (as production: https only)."""
    monkeypatch.setenv("GCC_DATABASE_URL", gcc_settings.database_url)
    monkeypatch.setenv("GCC_ALLOW_HTTP_WEBHOOKS", "false")
    get_settings.cache_clear()
    runner = CliRunner()

    def run(*args: str) -> Result:
        return runner.invoke(cli_app, list(args))

    yield run
    get_settings.cache_clear()


async def stored(settings: Settings, name: str) -> Organization | None:
    engine = create_engine(settings.database_url, pool_size=1)
    try:
        async with create_session_factory(engine)() as session:
            return (
                await session.exec(select(Organization).where(Organization.name == name))
            ).first()
    finally:
        await engine.dispose()


def test_org_commands_add_list_and_show(
    gcc_cli: Callable[..., Result], gcc_settings: Settings
) -> None:
    added = gcc_cli(
        "org",
        "add",
        "--name",
        "terminal-co",
        "--deployment-type",
        "docker",
        "--webhook-endpoint",
        "https://terminal.example.com/api/deployment/webhook",
        "--license-expires-at",
        "2027-01-31T00:00:00+00:00",
        "--current-version",
        "2.0.0",
        "--account-manager-email",
        "am@wrktalk.example.com",
    )
    listed = gcc_cli("org", "list")
    shown = gcc_cli("org", "show", "terminal-co")

    assert added.exit_code == 0, added.output
    api_key = next(
        line.split()[-1] for line in added.stdout.splitlines() if line.startswith("API key")
    )
    secret = next(
        line.split()[-1] for line in added.stdout.splitlines() if line.startswith("webhook")
    )
    assert secret.startswith("whsec_")
    row = asyncio.run(stored(gcc_settings, "terminal-co"))
    assert row is not None
    assert row.api_key_hash == hash_api_key(api_key)
    assert row.webhook_secret == secret
    assert row.deployment_type == "docker"
    assert listed.exit_code == 0, listed.output
    assert "terminal-co" in listed.stdout
    assert shown.exit_code == 0, shown.output
    assert '"name": "terminal-co"' in shown.stdout
    assert api_key not in shown.stdout
    assert secret not in shown.stdout


def test_org_add_refuses_duplicates_plain_http_and_bad_names(
    gcc_cli: Callable[..., Result],
) -> None:
    def add(name: str, endpoint: str) -> Result:
        return gcc_cli(
            "org",
            "add",
            "--name",
            name,
            "--deployment-type",
            "docker",
            "--webhook-endpoint",
            endpoint,
        )

    first = add("terminal-co", "https://terminal.example.com/hook")
    duplicate = add("terminal-co", "https://terminal.example.com/hook")
    plain_http = add("plain-co", "http://plain.example.com/hook")
    bad_name = add("Bad Name", "https://bad.example.com/hook")

    assert first.exit_code == 0, first.output
    assert duplicate.exit_code == 1
    assert "(name)" in duplicate.stderr
    assert plain_http.exit_code == 1
    assert "(webhookEndpoint)" in plain_http.stderr
    assert bad_name.exit_code == 2
    assert "(name)" in bad_name.stderr


def test_org_show_unknown_exits_1(gcc_cli: Callable[..., Result]) -> None:
    shown = gcc_cli("org", "show", "nobody")

    assert shown.exit_code == 1
    assert "nobody" in shown.stderr
