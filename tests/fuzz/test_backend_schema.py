"""The customer backend, served for real, answers every generated request as its document
says: the Control Tower with an admin's token, the agent API with the agent secret, the
application's settings with its token, and GCC's webhook signed with the webhook secret."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
import schemathesis
from schemathesis.core import NOT_SET

from customer_backend.app import create_app
from customer_backend.intake.endpoints import WEBHOOK_PATH
from customer_backend.settings import Settings
from customer_backend.table_base import metadata
from signing import build_headers, generate_secret
from tests.fuzz.schema_fuzzing import (
    CHECKS,
    FUZZ_SETTINGS,
    RIGHT_CREDENTIAL_CHECKS,
    load_schema,
    reset_tables,
    run_sequences,
    send_with_each,
)
from testsupport.backend_fixtures import AGENT_SECRET, APP_CONFIG_TOKEN, BACKEND_WEBHOOK_SECRET
from timekeeping import ManualClock
from wrktalk_testing.servers import ServedApp

DOCUMENT = create_app(Settings()).openapi()
backend_schema = load_schema(DOCUMENT)


def test_the_served_document_is_the_one_fuzzed(backend_server: ServedApp) -> None:
    assert httpx.get(f"{backend_server.base_url}/openapi.json").json() == DOCUMENT


def own_credential(path: str) -> str:
    if path.startswith("/internal/"):
        return "agent"
    if path == "/api/app/config":
        return "application"
    return "admin"


@pytest.fixture
async def backend_credentials(
    backend_client: httpx.AsyncClient, admin_factory: Any
) -> dict[str, dict[str, str]]:
    """Every kind of credential the backend knows, a wrong one and none (tables emptied)."""
    admin = await admin_factory("fuzz@acme.example", role="support")
    return {
        "admin": admin.headers,
        "agent": {"X-Agent-Secret": AGENT_SECRET},
        "application": {"Authorization": f"Bearer {APP_CONFIG_TOKEN}"},
        "wrong": {"Authorization": "Bearer not-a-token", "X-Agent-Secret": "not-the-secret"},
        "none": {},
    }


def send_signed(case: schemathesis.Case, *, base_url: str, clock: ManualClock) -> None:
    """Send the webhook signed with the right secret, with another, and unsigned."""
    # a negative case may carry raw bytes rather than a JSON document
    if case.body is NOT_SET:
        body = b""
    elif isinstance(case.body, bytes):
        body = case.body
    else:
        body = json.dumps(case.body).encode()
    webhook_id = f"msg_{uuid.uuid4().hex}"
    senders = {
        "gcc": build_headers(BACKEND_WEBHOOK_SECRET, webhook_id, clock.now(), body),
        "wrong": build_headers(generate_secret(), webhook_id, clock.now(), body),
        "none": {},
    }
    for kind, signature in senders.items():
        headers = {**(case.headers or {}), **signature, "Content-Type": "application/json"}
        response = httpx.post(f"{base_url}{WEBHOOK_PATH}", content=body, headers=headers)
        checks = RIGHT_CREDENTIAL_CHECKS if kind == "gcc" else CHECKS
        case.validate_response(response, checks=checks, headers=headers)


@backend_schema.parametrize()
@FUZZ_SETTINGS
def test_the_backend_answers_every_request_as_its_document_says(
    case: schemathesis.Case,
    backend_server: ServedApp,
    backend_credentials: dict[str, dict[str, str]],
    gcc_clock: ManualClock,
) -> None:
    if case.operation.path == WEBHOOK_PATH:
        send_signed(case, base_url=backend_server.base_url, clock=gcc_clock)
        return
    send_with_each(
        case,
        base_url=backend_server.base_url,
        credentials=backend_credentials,
        own=own_credential(case.operation.path),
    )


KEPT_TABLES = {"admin", "installation_state"}
"""What the credentials need: every other table starts each sequence empty."""


def test_the_backend_follows_its_documents_links(
    backend_server: ServedApp,
    backend_settings: Settings,
    backend_credentials: dict[str, dict[str, str]],
) -> None:
    tables = [table.name for table in metadata.sorted_tables if table.name not in KEPT_TABLES]
    run_sequences(
        backend_schema,
        base_url=backend_server.base_url,
        headers_for=lambda path: backend_credentials[own_credential(path)],
        reset=lambda: reset_tables(backend_settings.database_url, tables),
    )
