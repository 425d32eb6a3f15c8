"""Operator route of the audit trail, under ``/api/operator/audit``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from contracts import MAX_ORGANIZATION_NAME_LENGTH, MAX_VERSION_LENGTH, AuditAction, AuditList
from gcc.audit import service
from gcc.deps import OperatorCaller, SessionDep

router = APIRouter(prefix="/api/operator/audit", tags=["operator: audit"])


@router.get("", response_model=AuditList)
async def list_audit_entries(
    _: OperatorCaller,
    session: SessionDep,
    actor: Annotated[
        str | None,
        Query(
            max_length=320,
            description="Only this actor's: an operator's email, "
            "`operator token`, `ci token` or `command:<user>`.",
        ),
    ] = None,
    organization: Annotated[
        str | None,
        Query(max_length=MAX_ORGANIZATION_NAME_LENGTH, description="Only this organization's."),
    ] = None,
    release: Annotated[
        str | None, Query(max_length=MAX_VERSION_LENGTH, description="Only this release's.")
    ] = None,
    action: Annotated[AuditAction | None, Query(description="Only this kind of change.")] = None,
    before: Annotated[
        str | None,
        Query(max_length=200, description="The `nextCursor` of the previous page."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500, description="At most this many.")] = 50,
) -> AuditList:
    """Who changed what, newest first; page with `before`."""
    return await service.list_entries(
        session,
        actor=actor,
        organization_name=organization,
        release_version=release,
        action=action,
        before=before,
        limit=limit,
    )
