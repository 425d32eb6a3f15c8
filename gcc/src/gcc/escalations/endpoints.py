"""Operator routes of escalations, under ``/api/operator/escalations``."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query

from contracts import (
    MAX_STORED_INTEGER,
    EscalationList,
    EscalationResolveRequest,
    EscalationType,
    EscalationView,
)
from gcc.deps import ClockDep, OperatorCaller, SessionDep
from gcc.escalations import service
from servicekit.openapi import error_responses

router = APIRouter(prefix="/api/operator/escalations", tags=["operator: escalations"])


@router.get("", response_model=EscalationList)
async def list_escalations(
    _: OperatorCaller,
    session: SessionDep,
    type_: Annotated[
        EscalationType | None, Query(alias="type", description="Only this type.")
    ] = None,
    organization: Annotated[
        str | None, Query(max_length=100, description="Only this organization's.")
    ] = None,
    is_open: Annotated[
        bool | None, Query(alias="open", description="true: unresolved only; false: resolved.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=5000, description="At most this many.")] = 500,
    offset: Annotated[
        int, Query(ge=0, le=MAX_STORED_INTEGER, description="Skip this many (paging).")
    ] = 0,
) -> EscalationList:
    """Escalations, newest first; `total` counts every match, for paging with `offset`."""
    return await service.list_escalations(
        session,
        escalation_type=type_,
        organization_name=organization,
        is_open=is_open,
        limit=limit,
        offset=offset,
    )


@router.post("/{id}/resolve", response_model=EscalationView, responses=error_responses(404, 409))
async def resolve_escalation(
    caller: OperatorCaller,
    escalation_id: Annotated[uuid.UUID, Path(alias="id", description="The escalation id.")],
    body: EscalationResolveRequest,
    session: SessionDep,
    clock: ClockDep,
) -> EscalationView:
    """Close an escalation with a resolution text (409 when it is resolved already)."""
    return await service.resolve_escalation(
        session,
        clock=clock,
        actor=caller,
        escalation_id=escalation_id,
        resolution=body.resolution,
    )
