"""Operator commands: ``gcc escalations list|resolve``, on the same services as the operator
API (``GET /api/operator/escalations``, ``POST /api/operator/escalations/{id}/resolve``)."""

from __future__ import annotations

import typer
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import EscalationResolveRequest, EscalationType, EscalationView
from gcc.audit.service import Actor
from gcc.escalations import service
from gcc.organizations.commands import run_in_database
from servicekit.commands import validated
from servicekit.failures import command_group
from servicekit.output import Column, minute, print_json, print_page_footer, print_table
from timekeeping import SystemClock

escalations_app = command_group("Escalations: list them, resolve them.")

ESCALATION_COLUMNS = [
    Column("ID", service.SHORTEST_ID_PREFIX),
    Column("TYPE", 19),
    Column("ORGANIZATION", 20),
    Column("RAISED (UTC)", 16),
    Column("REASON", 60),
]


@escalations_app.command("list")
def list_(
    type_: EscalationType | None = typer.Option(None, "--type", help="Only this type."),
    organization: str | None = typer.Option(None, help="Only this organization's."),
    include_resolved: bool = typer.Option(
        False, "--all", help="Resolved ones too (by default only the open ones)."
    ),
    resolved: bool = typer.Option(False, "--resolved", help="Only the resolved ones."),
    limit: int = typer.Option(50, min=1, max=5000, help="At most this many."),
    offset: int = typer.Option(0, min=0, help="Skip this many (the next page)."),
    json_output: bool = typer.Option(False, "--json", help="JSON, as the API answers."),
) -> None:
    """Escalations, newest first, a page at a time: the open ones unless --all or --resolved."""
    is_open: bool | None = False if resolved else (None if include_resolved else True)
    listing = run_in_database(
        lambda session: service.list_escalations(
            session,
            escalation_type=type_,
            organization_name=organization,
            is_open=is_open,
            limit=limit,
            offset=offset,
        )
    )
    if json_output:
        print_json(listing)
        return
    print_table(
        ESCALATION_COLUMNS,
        [
            (
                str(escalation.id)[: service.SHORTEST_ID_PREFIX],
                escalation.type,
                escalation.organization_name,
                minute(escalation.escalated_at),
                escalation.reason if escalation.is_open else f"[resolved] {escalation.resolution}",
            )
            for escalation in listing.escalations
        ],
    )
    noun = "escalations" if is_open is None else ("open" if is_open else "resolved")
    print_page_footer(
        shown=len(listing.escalations),
        offset=offset,
        total=listing.total,
        noun=noun if noun == "escalations" else f"{noun} escalations",
    )


@escalations_app.command("resolve")
def resolve(
    escalation_id: str = typer.Argument(
        ..., help="The escalation's id, or its first 8 or more characters as the list shows."
    ),
    reason: str = typer.Option(..., "--reason", help="What was done about it."),
    json_output: bool = typer.Option(False, "--json", help="JSON, as the API answers."),
) -> None:
    """Close an escalation with what was done about it (refused when it is resolved already)."""
    request = validated(EscalationResolveRequest, {"resolution": reason})

    async def work(session: AsyncSession) -> EscalationView:
        found = await service.find_escalation_id(session, id_text=escalation_id)
        return await service.resolve_escalation(
            session,
            clock=SystemClock(),
            actor=Actor.command_line(),
            escalation_id=found,
            resolution=request.resolution,
        )

    view = run_in_database(work)
    if json_output:
        print_json(view)
        return
    typer.echo(f"resolved {view.type} of {view.organization_name} ({view.id})")
