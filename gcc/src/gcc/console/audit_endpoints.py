"""The audit page: who changed what, filtered by operator, organization and release."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from contracts import AuditAction
from gcc.audit import service
from gcc.console.web import PREFIX, ConsoleViewer, choice, render, url
from gcc.deps import SessionDep

router = APIRouter(prefix=PREFIX, include_in_schema=False)

PAGE_SIZE = 50


@router.get("/audit")
async def audit_page(
    request: Request,
    user: ConsoleViewer,
    session: SessionDep,
    actor: Annotated[str | None, Query(max_length=320)] = None,
    organization: Annotated[str | None, Query(max_length=100)] = None,
    release: Annotated[str | None, Query(max_length=100)] = None,
    action_text: Annotated[str | None, Query(alias="action", max_length=64)] = None,
    before: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """The trail newest first, a page at a time (older pages follow a cursor)."""
    action = choice(AuditAction, action_text, field="action")
    filters = {
        "actor": actor or "",
        "organization": organization or "",
        "release": release or "",
        "action": action or "",
    }
    entries = await service.list_entries(
        session,
        actor=actor or None,
        organization_name=organization or None,
        release_version=release or None,
        action=action,
        before=before or None,
        limit=PAGE_SIZE,
    )
    kept = {key: value for key, value in filters.items() if value}
    older = (
        url("/audit?" + urlencode({**kept, "before": entries.next_cursor}))
        if entries.next_cursor
        else None
    )
    return render(
        request,
        "audit.html",
        {
            "entries": entries.entries,
            "filters": filters,
            "actors": await service.actors(session),
            "actions": list(AuditAction),
            "older": older,
            "newest": url("/audit?" + urlencode(kept)) if before else None,
        },
        user=user,
        current="audit",
    )
