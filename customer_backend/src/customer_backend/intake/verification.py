"""Reading a signed webhook: its signature and timestamp, its id, then its body.

Nothing of a webhook is read before its signature verifies, and what is read is bounded: an
id no longer than the column that records it, a JSON body no deeper than the parser allows.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import pydantic_core
import structlog
from pydantic import ValidationError

from contracts import (
    MAX_WEBHOOK_ID_LENGTH,
    RELEASE_WITHDRAWN,
    ReleasePublishedWebhook,
    ReleaseWithdrawnWebhook,
)
from customer_backend.settings import Settings
from servicekit.errors import InvalidInput, Unauthorized
from signing import HEADER_ID, WebhookVerificationError, verify

log = structlog.get_logger(__name__)


def verify_webhook(
    *, settings: Settings, headers: Mapping[str, str], body: bytes, now: datetime
) -> str:
    """Check the Standard Webhooks signature and timestamp; the webhook id, or 401 (422 for
    an authentic id too long to record)."""
    # split and checked as base64 when the settings were loaded
    secrets = [secret.get_secret_value() for secret in settings.webhook_secret]
    if not secrets:
        log.error("intake.webhook.rejected", reason="no_secret_configured")
        raise Unauthorized("No webhook secret is configured (WRKTALK_WEBHOOK_SECRET).")
    try:
        # The id comes from the verifier: it is the one the signature covered.
        webhook_id = verify(secrets, headers, body, now=now)
    except WebhookVerificationError as error:
        log.warning("intake.webhook.rejected", reason=str(error.reason))
        raise Unauthorized(
            f"Webhook verification failed ({error.reason}): {error.message}.", field=error.header
        ) from None
    if len(webhook_id) > MAX_WEBHOOK_ID_LENGTH:
        raise InvalidInput(
            f"The webhook id is longer than {MAX_WEBHOOK_ID_LENGTH} characters.",
            field=HEADER_ID,
        )
    return webhook_id


def parse_webhook_body(body: bytes) -> tuple[ReleasePublishedWebhook, dict[str, Any]]:
    """The validated webhook and the body's JSON object; 422 naming the first bad field."""
    try:
        # pydantic-core's parser, unlike json.loads, refuses a document nested past a fixed
        # depth with a plain error instead of exhausting Python's recursion limit.
        document = pydantic_core.from_json(body)
    except ValueError as error:
        raise InvalidInput(f"The body is not valid JSON: {error}.", field="body") from None
    if not isinstance(document, dict):
        raise InvalidInput("The body must be a JSON object.", field="body")
    try:
        webhook = ReleasePublishedWebhook.model_validate(document)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or None
        raise InvalidInput(f"{field}: {first['msg']}", field=field) from None
    return webhook, document


def parse_withdrawal(body: bytes) -> ReleaseWithdrawnWebhook | None:
    """The ``release.withdrawn`` message the body holds; None when it is another event (or
    no JSON object: :func:`parse_webhook_body` says why); 422 for a withdrawal with a bad
    field."""
    try:
        document = pydantic_core.from_json(body)
    except ValueError:
        return None
    if not isinstance(document, dict) or document.get("eventType") != RELEASE_WITHDRAWN:
        return None
    try:
        return ReleaseWithdrawnWebhook.model_validate(document)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or None
        raise InvalidInput(f"{field}: {first['msg']}", field=field) from None
