"""Intake routes: GCC's signed ``release.published`` webhook."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from contracts import ReceivedAck, ReleasePublishedWebhook
from customer_backend.deps import RuntimeDep, SessionDep
from customer_backend.intake import service
from servicekit.bodies import read_limited_body
from servicekit.openapi import Credentials, error_responses, json_request_body
from signing import HEADER_SIGNATURE

router = APIRouter(tags=["intake"])

WEBHOOK_PATH = "/api/deployment/webhook"
WEBHOOK_SIGNATURE = Credentials(
    scheme={
        "type": "apiKey",
        "in": "header",
        "name": HEADER_SIGNATURE,
        "description": "Standard Webhooks: `v1,<base64 HMAC-SHA256 of id.timestamp.body>` with "
        "the webhook secret, beside `webhook-id` and `webhook-timestamp`.",
    },
    path_prefixes=(WEBHOOK_PATH,),
)
"""How GCC authenticates itself to the webhook route: a signature, not a bearer token."""

MAX_WEBHOOK_BODY_BYTES = 1024 * 1024
"""Far above any release body (release notes are capped); a larger body is refused unread."""

_WEBHOOK_BODY: dict[str, Any] = json_request_body(
    ReleasePublishedWebhook,
    description="The `ReleasePublishedWebhook` contract, signed with the Standard Webhooks "
    "headers `webhook-id`, `webhook-timestamp` and `webhook-signature`.",
)


@router.post(
    WEBHOOK_PATH,
    response_model=ReceivedAck,
    openapi_extra=_WEBHOOK_BODY,
    responses=error_responses(403, 413),
    summary="Receive a release published at GCC (signed webhook)",
)
async def receive_release_webhook(
    request: Request, session: SessionDep, runtime: RuntimeDep
) -> ReceivedAck:
    """Verify the signature, check the license and the signed manifest, record the release
    once; download later."""
    body = await read_limited_body(
        request,
        limit=MAX_WEBHOOK_BODY_BYTES,
        detail=f"The webhook body is larger than {MAX_WEBHOOK_BODY_BYTES} bytes.",
        field="body",
    )
    await service.receive_webhook(
        session,
        clock=runtime.clock,
        settings=runtime.settings,
        headers=request.headers,
        body=body,
        send_task=runtime.send_task,
        session_factory=runtime.session_factory,
    )
    return ReceivedAck()
