"""A database error on a route that writes a webhook secret is logged without the secret.

The statement's parameters hold the secret; the log gets the error's text and traceback, in
JSON (production) and on the console (local development).
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from logconfig import configure_logging, logging_restored
from testsupport.gcc_fixtures import OrganizationFactory

PROBE = "log-probe"


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Put the logging configuration back as it was after the test configures its own."""
    with logging_restored():
        yield


@asynccontextmanager
async def refused_organization_writes(engine: AsyncEngine) -> AsyncIterator[None]:
    """PostgreSQL refuses every write of an organization whose name starts with PROBE."""
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "CREATE OR REPLACE FUNCTION refuse_log_probe() RETURNS trigger LANGUAGE plpgsql "
                "AS $$ BEGIN RAISE EXCEPTION 'organization write refused by the test'; END $$"
            )
        )
        await connection.execute(
            text(
                "CREATE TRIGGER refuse_log_probe BEFORE INSERT OR UPDATE ON organization "
                f"FOR EACH ROW WHEN (NEW.name LIKE '{PROBE}%') EXECUTE FUNCTION refuse_log_probe()"
            )
        )
    try:
        yield
    finally:
        async with engine.begin() as connection:
            await connection.execute(text("DROP TRIGGER refuse_log_probe ON organization"))
            await connection.execute(text("DROP FUNCTION refuse_log_probe()"))


async def request_failing(base_url: str, method: str, path: str, **kwargs: Any) -> None:
    # A connection of its own: the server closes the connection after an unexpected error.
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        response = await client.request(method, path, **kwargs)
    assert response.status_code == 500, response.text
    assert response.json()["error"] == "internal_error"


@pytest.mark.parametrize("json_lines", [True, False], ids=["json", "console"])
async def test_a_failed_write_of_a_webhook_secret_does_not_log_the_secret(
    json_lines: bool,
    gcc_client: httpx.AsyncClient,
    operator_headers: dict[str, str],
    organization_factory: OrganizationFactory,
    gcc_engine: AsyncEngine,
    restore_logging: None,
) -> None:
    existing = await organization_factory(PROBE)
    base_url = str(gcc_client.base_url)
    stream = io.StringIO()
    configure_logging(json=json_lines, stream=stream, service="gcc-api")

    async with refused_organization_writes(gcc_engine):
        await request_failing(
            base_url,
            "POST",
            "/api/operator/organizations",
            json={
                "name": f"{PROBE}-new",
                "deploymentType": "kubernetes",
                "webhookEndpoint": "https://probe.example.com/api/deployment/webhook",
            },
            headers=operator_headers,
        )
        await request_failing(
            base_url,
            "POST",
            f"/api/operator/organizations/{PROBE}/rotate-secret",
            headers=operator_headers,
        )

    logged = stream.getvalue()
    assert logged.count("request.failed") == 2
    assert "organization write refused by the test" in logged
    assert "INSERT INTO organization" in logged
    assert "UPDATE organization" in logged
    assert existing.webhook_secret not in logged
    assert "whsec_" not in logged
