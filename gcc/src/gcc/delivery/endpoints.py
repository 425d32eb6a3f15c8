"""Operator routes of webhook delivery (the release's own view shows every target)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from contracts import ErrorResponse, RedeliveryResponse
from gcc.delivery import service
from gcc.deps import ClockDep, OperatorCaller, RuntimeDep, SessionDep

router = APIRouter(tags=["delivery"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse} for code in (401, 404, 409, 422)
}


@router.post(
    "/api/operator/releases/{version}/redeliver",
    response_model=RedeliveryResponse,
    responses=_ERRORS,
    summary="Send a release's failed webhooks again (operator)",
)
async def redeliver_release(
    version: Annotated[str, Path(max_length=128, description="A release version, e.g. 2.3.0")],
    _caller: OperatorCaller,
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
        version_text=version,
        organization_name=organization,
        send_task=runtime.send_task,
    )
