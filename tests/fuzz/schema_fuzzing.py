"""What the schema fuzzing of both services shares: the schema loader, the checks, the bounds.

Schemathesis reads a service's document from the served app and generates requests from it,
valid ones and invalid ones; every request is sent once with each kind of credential, right
and wrong, and every answer must be in the document: its status, its content type, its body's
schema and its headers, and never a 5xx.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import CheckContext, not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.openapi.checks import RejectedPositiveData
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import text

from servicekit.db import create_engine

MAX_EXAMPLES = int(os.environ.get("WRKTALK_FUZZ_EXAMPLES", "25"))
"""Generated requests per operation (each sent with every credential kind): with both
services' operations this keeps the run within a few minutes on two cores."""

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    ignored_auth,
    response_headers_conformance,
    response_schema_conformance,
]
"""Checks for every answer, whoever sends the request."""

REFUSALS_BEYOND_THE_DOCUMENT: Mapping[tuple[str, str], frozenset[str]] = {
    # The archive's content: a chart or bundle that holds what it must, safely.
    ("POST", "/api/internal/artifacts"): frozenset({"file"}),
    # Organizations that exist, and are active, now; a minimum below the release's version.
    ("POST", "/api/internal/releases"): frozenset({"targets", "minCurrentVersion"}),
    # A values.yaml that parses as YAML.
    ("PUT", "/api/admin/config/essential"): frozenset({"content"}),
    # A page cursor the API itself returned: any other text is a string to the document.
    ("GET", "/api/operator/audit"): frozenset({"before"}),
}
"""The fields whose 422 a request valid by the document may still get, by operation: each
depends on what JSON Schema cannot state (stored rows, a file's content, one field compared
with another)."""


def positive_data_accepted(
    ctx: CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> bool | None:
    """Schemathesis's ``positive_data_acceptance``: a request the document calls valid is not
    refused (no 400, 413 or 422), but for the fields in :data:`REFUSALS_BEYOND_THE_DOCUMENT`."""
    try:
        return positive_data_acceptance(ctx, response, case)
    except RejectedPositiveData:
        allowed = REFUSALS_BEYOND_THE_DOCUMENT.get((case.method.upper(), case.operation.path))
        if allowed and response.status_code == 422 and response.json().get("field") in allowed:
            return None
        raise


RIGHT_CREDENTIAL_CHECKS = [*CHECKS, positive_data_accepted]
"""Checks for the answer to the operation's own credentials: valid data must be accepted too.
Schemathesis's ``negative_data_rejection`` is not among them: pydantic's lax mode accepts what
JSON Schema calls another type where the value is unambiguous (``"true"`` or ``1`` for a
boolean, ``"5"`` for a number), and the contracts keep that tolerance for peers."""

FUZZ_SETTINGS = hypothesis_settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


def load_schema(document: dict[str, Any]) -> schemathesis.BaseSchema:
    """A service's document, with generated credentials left out: the tests send their own.

    Schemathesis's lazy loading from a fixture does not work with this pytest, so the document
    comes from the app's code at import; each test checks that the served one is the same.
    """
    config = SchemathesisConfig.from_dict(
        {
            "generation": {
                "with-security-parameters": False,
                "max-examples": MAX_EXAMPLES,
                "database": "none",
                # A NUL is refused in every string with 422 naming the field (PostgreSQL's
                # text cannot hold it): one rule of every contract model, which the documents
                # do not repeat on each string. `*/tests/test_nul_characters.py` sends NULs
                # in bodies, paths and queries instead.
                "allow-x00": False,
            }
        }
    )
    return schemathesis.openapi.from_dict(document, config=config)


def send_with_each(
    case: schemathesis.Case,
    *,
    base_url: str,
    credentials: Mapping[str, dict[str, str]],
    own: str,
) -> None:
    """Send ``case`` once with each of ``credentials``; ``own`` names the operation's own."""
    for kind, headers in credentials.items():
        checks = RIGHT_CREDENTIAL_CHECKS if kind == own else CHECKS
        case.call_and_validate(base_url=base_url, headers=headers, checks=checks, timeout=30)


STATEFUL_EXAMPLES = int(os.environ.get("WRKTALK_FUZZ_SEQUENCES", "15"))
"""Generated sequences of calls that follow the documents' links, per service."""


def reset_tables(database_url: str, tables: Sequence[str], *, keep_rows: str = "") -> None:
    """Empty ``tables`` (then run ``keep_rows``, a statement that deletes all but the rows the
    credentials need), from the synchronous code of a state machine."""

    async def reset() -> None:
        engine = create_engine(database_url, pool_size=1)
        try:
            async with engine.begin() as connection:
                names = ", ".join(f'"{name}"' for name in tables)
                await connection.execute(text(f"TRUNCATE {names} CASCADE"))
                if keep_rows:
                    await connection.execute(text(keep_rows))
        finally:
            await engine.dispose()

    asyncio.run(reset())


def run_sequences(
    schema: schemathesis.BaseSchema,
    *,
    base_url: str,
    headers_for: Callable[[str], dict[str, str]],
    reset: Callable[[], None],
) -> None:
    """Follow the document's links (create, then read, change, delete what was created) with
    each operation's own credentials, checking every answer as above.

    Each sequence starts from the same state (``reset``): Hypothesis requires that the same
    choices lead to the same calls, and a name taken by an earlier sequence would answer 409
    where it answered 201 before.
    """
    machine = schema.as_state_machine()

    class Sequences(machine):  # type: ignore[misc, valid-type]
        def setup(self) -> None:
            reset()
            super().setup()

        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            return {"base_url": base_url, "headers": headers_for(case.operation.path)}

        def validate_response(
            self,
            response: schemathesis.Response,
            case: schemathesis.Case,
            additional_checks: Any = None,
            **kwargs: Any,
        ) -> None:
            case.validate_response(response, checks=CHECKS, transport_kwargs=kwargs)

    Sequences.run(
        settings=hypothesis_settings(
            max_examples=STATEFUL_EXAMPLES,
            stateful_step_count=6,
            deadline=None,
            derandomize=True,
            # The services keep what earlier sequences created, so a sequence cannot be
            # replayed identically: no shrinking, which replays it.
            phases=[Phase.explicit, Phase.generate],
            database=None,
            suppress_health_check=list(HealthCheck),
        )
    )
