"""Operator accounts: ``gcc operator add|list|deactivate``."""

from __future__ import annotations

from collections.abc import Sequence

import typer

from contracts import OperatorRole
from gcc.audit.service import Actor
from gcc.operators import service
from gcc.operators.models import Operator
from gcc.operators.service import operator_view
from gcc.settings import get_settings
from servicekit.commands import run_in_session
from servicekit.failures import command_group
from servicekit.output import Column, print_json, print_table
from timekeeping import SystemClock

operators_app = command_group("Manage the named operators who sign in to the console.")

OPERATOR_COLUMNS = [Column("EMAIL", 32), Column("NAME", 24), Column("ROLE", 8), Column("STATE", 11)]


@operators_app.command("add")
def add(
    email: str = typer.Option(..., help="Their address: sign-in links are sent there."),
    name: str = typer.Option(..., help="Their name, as the console and audit trail show it."),
    role: OperatorRole = typer.Option(
        OperatorRole.OPERATOR, help="operator (looks and acts) or viewer (looks only)."
    ),
) -> None:
    """Add a named operator; they sign in to the console with a link sent to their address."""
    operator = run_in_session(
        get_settings().database_url,
        lambda session: service.add_operator(
            session,
            clock=SystemClock(),
            actor=Actor.command_line(),
            email=email,
            name=name,
            role=role,
        ),
    )
    typer.echo(f"operator {operator.email} ({operator.name}) added as {operator.role}")


@operators_app.command("list")
def list_(
    json_output: bool = typer.Option(False, "--json", help="JSON: a list of operators."),
) -> None:
    """List operators, active ones first."""
    operators: Sequence[Operator] = run_in_session(
        get_settings().database_url, service.list_operators
    )
    views = [operator_view(operator) for operator in operators]
    if json_output:
        print_json(views)
        return
    print_table(
        OPERATOR_COLUMNS,
        [
            (view.email, view.name, view.role, "active" if view.is_active else "deactivated")
            for view in views
        ],
    )


@operators_app.command("deactivate")
def deactivate(
    email: str = typer.Argument(..., help="The operator's address."),
) -> None:
    """Stop an operator from signing in; their open console sessions end at once."""
    operator = run_in_session(
        get_settings().database_url,
        lambda session: service.deactivate_operator(
            session, clock=SystemClock(), actor=Actor.command_line(), email=email
        ),
    )
    typer.echo(f"operator {operator.email} deactivated")
