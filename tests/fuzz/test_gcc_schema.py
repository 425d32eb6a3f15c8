"""GCC, served for real, answers every generated request as its document says."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import schemathesis

from gcc.app import create_app
from gcc.settings import Settings
from gcc.table_base import metadata
from tests.fuzz.schema_fuzzing import (
    FUZZ_SETTINGS,
    load_schema,
    reset_tables,
    run_sequences,
    send_with_each,
)
from testsupport.gcc_fixtures import CI_TOKEN, OPERATOR_TOKEN
from wrktalk_testing.servers import ServedApp

CUSTOMER = "acme"


DOCUMENT = create_app(Settings()).openapi()
gcc_schema = load_schema(DOCUMENT)


def own_credential(path: str) -> str:
    if path.startswith("/api/operator/"):
        return "operator"
    if path.startswith("/api/internal/"):
        return "ci"
    return "customer"


def test_the_served_document_is_the_one_fuzzed(gcc_server: ServedApp) -> None:
    assert httpx.get(f"{gcc_server.base_url}/openapi.json").json() == DOCUMENT


@pytest.fixture
async def gcc_credentials(organization_factory: Any) -> dict[str, dict[str, str]]:
    """Every kind of credential GCC knows, a wrong one and none (the tables emptied)."""
    customer = await organization_factory(CUSTOMER)
    return {
        "ci": {"Authorization": f"Bearer {CI_TOKEN}"},
        "operator": {"Authorization": f"Bearer {OPERATOR_TOKEN}"},
        "customer": customer.headers,
        "wrong": {"Authorization": "Bearer gcc_not-a-key"},
        "none": {},
    }


@gcc_schema.parametrize()
@FUZZ_SETTINGS
def test_gcc_answers_every_request_as_its_document_says(
    case: schemathesis.Case, gcc_server: ServedApp, gcc_credentials: dict[str, dict[str, str]]
) -> None:
    send_with_each(
        case,
        base_url=gcc_server.base_url,
        credentials=gcc_credentials,
        own=own_credential(case.operation.path),
    )


def test_gcc_follows_its_documents_links(
    gcc_server: ServedApp, gcc_settings: Settings, gcc_credentials: dict[str, dict[str, str]]
) -> None:
    # Every table but the organizations' starts each sequence empty, and of those only the
    # customer whose key the credentials hold is kept.
    tables = [table.name for table in metadata.sorted_tables if table.name != "organization"]
    run_sequences(
        gcc_schema,
        base_url=gcc_server.base_url,
        headers_for=lambda path: gcc_credentials[own_credential(path)],
        reset=lambda: reset_tables(
            gcc_settings.database_url,
            tables,
            keep_rows="DELETE FROM organization WHERE name <> 'acme'",  # CUSTOMER
        ),
    )
