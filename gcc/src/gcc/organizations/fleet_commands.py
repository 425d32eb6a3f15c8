"""``gcc fleet``: organizations per health state and version, and the table behind them."""

from __future__ import annotations

from collections.abc import Sequence

import typer
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import FleetSummary, HealthStatus
from gcc.organizations import fleet as fleet_queries
from gcc.organizations import service
from gcc.organizations.commands import print_organizations, run_in_database
from gcc.organizations.models import Organization
from servicekit.output import print_json


def fleet(
    health: HealthStatus | None = typer.Option(None, help="Only organizations in this state."),
    version: str | None = typer.Option(None, help="Only organizations running this version."),
    limit: int = typer.Option(50, min=1, max=5000, help="At most this many rows."),
    offset: int = typer.Option(0, min=0, help="Skip this many rows (the next page)."),
    json_output: bool = typer.Option(
        False, "--json", help="The counts as GET /api/operator/fleet answers them."
    ),
) -> None:
    """The fleet: counts per health state and version, then the organizations (filtered)."""

    async def work(session: AsyncSession) -> tuple[FleetSummary, Sequence[Organization], int]:
        summary = await fleet_queries.fleet_summary(session)
        found = await service.list_organizations(
            session, health_status=health, current_version=version, limit=limit, offset=offset
        )
        total = await service.count_organizations(
            session, health_status=health, current_version=version
        )
        return summary, found, total

    summary, organizations, total = run_in_database(work)
    if json_output:
        print_json(summary)
        return
    typer.echo(
        f"{summary.total} organizations: "
        + ", ".join(f"{status} {summary.health.get(status, 0)}" for status in HealthStatus)
    )
    versions = ", ".join(
        f"{entry.version or 'unknown'} {entry.count}" for entry in summary.versions[:8]
    )
    more = f" (+{len(summary.versions) - 8} more)" if len(summary.versions) > 8 else ""
    typer.echo(f"versions: {versions or 'none'}{more}")
    typer.echo("")
    print_organizations(organizations, offset=offset, total=total, json_output=False)
