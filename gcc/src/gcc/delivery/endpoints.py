"""Operator routes of webhook delivery (the release's own view shows every target)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from contracts import RedeliveryResponse
from gcc.delivery import service
from gcc.deps import ClockDep, OperatorCaller, RuntimeDep, SessionDep, VersionPath
from servicekit.openapi import error_responses

router = APIRouter(tags=["delivery"])


@router.post(
    "/api/operator/releases/{version}/redeliver",
    response_model=RedeliveryResponse,
    responses=error_responses(404, 409),
    summary="Send a release's failed webhooks again (operator)",
)
async def redeliver_release(
    version: VersionPath,
    caller: OperatorCaller,
    session: SessionDep,
    clock: ClockDep,
    runtime: RuntimeDep,
    organization: Annotated[
        str | None,
        Query(max_length=100, description="Only this organization's failed delivery."),
    ] = None,
) -> RedeliveryResponse:
    """Queue every `webhookFailed` delivery of the release again (or one organization's),
    with its original `webhook-id` and a fresh allowance of attempts."""
    return await service.redeliver_failed(
        session,
        clock=clock,
        actor=caller,
        version_text=version,
        organization_name=organization,
        send_task=runtime.send_task,
    )
