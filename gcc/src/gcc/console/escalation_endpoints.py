"""The escalations page: open ones first, newest first, with what the runbook says to do;
resolve with a reason."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import Response

from consolekit.web import is_htmx
from contracts import MAX_RESOLUTION_LENGTH, EscalationType
from gcc.console.web import PREFIX, ConsoleActor, ConsoleViewer, choice, render, see_other
from gcc.deps import ClockDep, SessionDep
from gcc.escalations import service
from gcc.escalations.service import ADVICE, TITLES

router = APIRouter(prefix=PREFIX, include_in_schema=False)

PAGE_SIZE = 50


@router.get("/escalations")
async def escalations_page(
    request: Request,
    user: ConsoleViewer,
    session: SessionDep,
    organization: Annotated[str | None, Query(max_length=100)] = None,
    type_text: Annotated[str | None, Query(alias="type", max_length=40)] = None,
    resolved_page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    """Every open escalation, then the resolved ones a page at a time."""
    escalation_type = choice(EscalationType, type_text, field="type")
    open_ones = await service.list_escalations(
        session,
        organization_name=organization or None,
        escalation_type=escalation_type,
        is_open=True,
        limit=5000,
    )
    resolved = await service.list_escalations(
        session,
        organization_name=organization or None,
        escalation_type=escalation_type,
        is_open=False,
        limit=PAGE_SIZE,
        offset=(resolved_page - 1) * PAGE_SIZE,
    )
    return render(
        request,
        "escalations.html",
        {
            "open_ones": open_ones,
            "resolved": resolved,
            "resolved_page": resolved_page,
            "resolved_pages": max(1, -(-resolved.total // PAGE_SIZE)),
            "titles": TITLES,
            "advice": ADVICE,
            "organization": organization or "",
            "escalation_type": escalation_type or "",
            "types": list(EscalationType),
            "max_reason": MAX_RESOLUTION_LENGTH,
        },
        user=user,
        current="escalations",
    )


@router.post("/escalations/{escalation_id}/resolve")
async def resolve(
    request: Request,
    user: ConsoleActor,
    session: SessionDep,
    clock: ClockDep,
    escalation_id: Annotated[uuid.UUID, Path()],
    reason: Annotated[str, Form(min_length=1, max_length=MAX_RESOLUTION_LENGTH)],
    back: Annotated[str | None, Form(max_length=200)] = None,
) -> Response:
    """Close an escalation with what was done, as the signed-in operator: from htmx, the
    escalation resolved, to put in place of the open one; from a plain form, the page again."""
    resolved = await service.resolve_escalation(
        session,
        clock=clock,
        actor=user.actor,
        escalation_id=escalation_id,
        resolution=reason.strip() or reason,
    )
    done = f"Resolved the {resolved.type} escalation of {resolved.organization_name}."
    if is_htmx(request):
        return render(
            request,
            "escalation_item.html",
            {"escalation": resolved, "titles": TITLES, "advice": ADVICE, "done": done},
            user=user,
        )
    target = back if back and back.startswith("/organizations/") else "/escalations"
    return see_other(target, done=done)
