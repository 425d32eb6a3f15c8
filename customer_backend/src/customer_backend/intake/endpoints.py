"""Intake routes: GCC's signed ``release.published`` webhook."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from contracts import ErrorResponse, ReceivedAck, ReleasePublishedWebhook
from customer_backend.deps import RuntimeDep, SessionDep
from customer_backend.intake import service
from servicekit.bodies import read_limited_body

router = APIRouter(tags=["intake"])

MAX_WEBHOOK_BODY_BYTES = 1024 * 1024
"""Far above any release body (release notes are capped); a larger body is refused unread."""

_WEBHOOK_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "The `ReleasePublishedWebhook` contract, signed with the Standard "
        "Webhooks headers `webhook-id`, `webhook-timestamp` and `webhook-signature`.",
        "content": {
            "application/json": {
                "schema": {"type": "object", "title": ReleasePublishedWebhook.__name__}
            }
        },
    }
}


@router.post(
    "/api/deployment/webhook",
    response_model=ReceivedAck,
    openapi_extra=_WEBHOOK_BODY,
    responses={code: {"model": ErrorResponse} for code in (401, 403, 413, 422)},
    summary="Receive a release published at GCC (signed webhook)",
)
async def receive_release_webhook(
    request: Request, session: SessionDep, runtime: RuntimeDep
) -> ReceivedAck:
    """Verify the signature, check the license, record the release once; download later."""
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
    )
    return ReceivedAck()
