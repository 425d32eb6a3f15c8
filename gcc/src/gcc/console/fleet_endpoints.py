"""The fleet page: counts per health state, the versions chart, and the organizations."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import DeploymentType, HealthStatus
from gcc.console.chart import Bar, bar_chart
from gcc.console.web import PREFIX, ConsoleViewer, choice, render, url
from gcc.deps import ClockDep, SessionDep
from gcc.organizations import fleet
from gcc.organizations.fleet import FleetQuery, LicenseState

router = APIRouter(prefix=PREFIX, include_in_schema=False)

SortKey = Literal["name", "health", "version", "license", "lastSeen", "type"]
CHART_VERSIONS = 12
"""Versions drawn one by one; the rest share a bar."""

HEALTH_STYLES = {
    HealthStatus.ONLINE: "status-ok",
    HealthStatus.DEGRADED: "status-warn",
    HealthStatus.OFFLINE: "status-warn",
    HealthStatus.CRITICAL: "status-bad",
    HealthStatus.UNKNOWN: "",
}


def versions_chart(summary_versions: list[tuple[str, int]]) -> list[Bar]:
    """The bars of the versions chart: the newest versions, then one for the rest."""
    bars = [Bar(label, count) for label, count in summary_versions[:CHART_VERSIONS]]
    rest = sum(count for _label, count in summary_versions[CHART_VERSIONS:])
    if rest:
        bars.append(Bar(f"{len(summary_versions) - CHART_VERSIONS} older", rest, "bar bar-muted"))
    return bars


@router.get("")
async def fleet_page(
    request: Request,
    user: ConsoleViewer,
    session: SessionDep,
    clock: ClockDep,
    search: Annotated[str | None, Query(alias="q", max_length=100)] = None,
    health: Annotated[str | None, Query(max_length=32)] = None,
    version: Annotated[str | None, Query(max_length=100)] = None,
    license_state: Annotated[str | None, Query(alias="license", max_length=32)] = None,
    deployment_type: Annotated[str | None, Query(alias="type", max_length=32)] = None,
    sort: Annotated[SortKey, Query()] = "name",
    direction: Annotated[Literal["asc", "desc"], Query(alias="dir")] = "asc",
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
) -> Response:
    """Counts, the versions chart and one page of the organizations, filtered and sorted."""
    query = FleetQuery(
        search=search,
        health=choice(HealthStatus, health, field="health"),
        version=version or None,
        deployment_type=choice(DeploymentType, deployment_type, field="type"),
        license=choice(LicenseState, license_state, field="license"),
        sort=sort,
        descending=direction == "desc",
        page=page,
    )
    context = await fleet_context(session, query=query, now=clock.now())
    return render(request, "fleet.html", context, user=user, current="fleet")


async def fleet_context(
    session: AsyncSession, *, query: FleetQuery, now: datetime
) -> dict[str, Any]:
    """What the fleet page shows for ``query``: the summary, its chart and one page of rows,
    with the links that keep the filters while changing the order or the page."""
    counts = await fleet.fleet_counts(session)
    summary = fleet.summary_of(counts)
    shown = await fleet.fleet_page(session, query=query, now=now, counts=counts)
    versions = [
        (str(entry.version) if entry.version else "unknown", entry.count)
        for entry in summary.versions
    ]
    filters = {
        "q": query.search or "",
        "health": query.health or "",
        "version": query.version or "",
        "license": query.license or "",
        "type": query.deployment_type or "",
    }
    sort, direction = shown.query.sort, "desc" if query.descending else "asc"

    def link(**changes: object) -> str:
        """This page's address with ``changes`` to its query (empty values left out)."""
        values: dict[str, object] = {**filters, "sort": sort, "dir": direction, "page": 1}
        values.update(changes)
        return url("?" + urlencode({key: value for key, value in values.items() if value}))

    return {
        "summary": summary,
        "health_styles": HEALTH_STYLES,
        "chart": bar_chart(
            versions_chart(versions), title="Organizations per version", chart_id="versions"
        ),
        "versions": versions,
        "shown": shown,
        "filters": filters,
        "sort": sort,
        "direction": direction,
        "link": link,
        "license_state": fleet.license_state,
        "now": now,
        "health_states": list(HealthStatus),
        "license_states": list(LicenseState),
        "deployment_types": list(DeploymentType),
    }
