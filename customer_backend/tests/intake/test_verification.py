"""Fuzzing the reading of a signed webhook: whatever arrives, the answer is a 4xx error of the
service, never another exception (a 500)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from contracts import MAX_WEBHOOK_ID_LENGTH
from customer_backend.intake.verification import parse_webhook_body, verify_webhook
from customer_backend.settings import Settings
from servicekit.errors import InvalidInput, ServiceError, Unauthorized
from signing import build_headers, generate_secret

SECRET = generate_secret()
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
SETTINGS = Settings(webhook_secret=[SecretStr(SECRET)])

HEADER_NAMES = st.sampled_from(
    ["webhook-id", "Webhook-Id", "webhook-timestamp", "webhook-signature", "content-type"]
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=30,
)


def outcome(call: Callable[[], object]) -> object:
    """What ``call`` returns, or the service error it raises; any other exception propagates."""
    try:
        return call()
    except ServiceError as error:
        return error


class PairHeaders(dict[str, str]):
    """Headers as a list of pairs that may repeat a name, as a server hands them over."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        super().__init__(pairs)
        self.pairs = pairs

    def items(self) -> list[tuple[str, str]]:  # type: ignore[override]
        return list(self.pairs)


@settings(max_examples=300, deadline=None)
@given(body=st.binary(max_size=512))
def test_any_bytes_are_a_webhook_or_a_422(body: bytes) -> None:
    result = outcome(lambda: parse_webhook_body(body))

    assert isinstance(result, tuple) or (isinstance(result, InvalidInput) and result.field)


@settings(max_examples=200, deadline=None)
@given(document=JSON_VALUES, depth=st.integers(min_value=0, max_value=5_000))
def test_any_json_at_any_depth_is_a_webhook_or_a_422(document: object, depth: int) -> None:
    body = b"[" * depth + json.dumps(document).encode() + b"]" * depth

    result = outcome(lambda: parse_webhook_body(body))

    assert isinstance(result, tuple) or (isinstance(result, InvalidInput) and result.field)


@settings(max_examples=300, deadline=None)
@given(
    pairs=st.lists(st.tuples(HEADER_NAMES, st.text(max_size=80)), max_size=6),
    body=st.binary(max_size=64),
)
def test_any_headers_are_verified_or_refused_with_a_service_error(
    pairs: list[tuple[str, str]], body: bytes
) -> None:
    result = outcome(
        lambda: verify_webhook(settings=SETTINGS, headers=PairHeaders(pairs), body=body, now=NOW)
    )

    assert isinstance(result, Unauthorized)


@settings(max_examples=100, deadline=None)
@given(
    webhook_id=st.text(min_size=1, max_size=300).filter(lambda text: text.strip() == text),
    extra=st.lists(st.tuples(HEADER_NAMES, st.text(max_size=40)), max_size=2),
)
def test_a_signed_message_verifies_only_with_each_header_once(
    webhook_id: str, extra: list[tuple[str, str]]
) -> None:
    body = b"{}"
    signed = list(build_headers(SECRET, webhook_id, NOW, body).items())
    repeats = [name for name, _ in extra if name.lower().startswith("webhook-")]
    headers = PairHeaders(signed + extra)

    result = outcome(lambda: verify_webhook(settings=SETTINGS, headers=headers, body=body, now=NOW))

    if repeats:
        assert isinstance(result, Unauthorized)
    elif len(webhook_id) > MAX_WEBHOOK_ID_LENGTH:
        assert isinstance(result, InvalidInput)
        assert result.field == "webhook-id"
    else:
        assert result == webhook_id
