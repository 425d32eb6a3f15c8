"""The fleet as a whole: counts per health state and version, and the organizations a page at
a time, searched, filtered and sorted in the database.

The operator API's ``GET /api/operator/fleet``, ``gcc fleet`` and the console's fleet page read
the same functions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import (
    DeploymentType,
    FleetSummary,
    FleetVersionCount,
    HealthStatus,
    InvalidVersionError,
    Version,
)
from gcc.organizations import repository
from gcc.organizations.repository import FLEET_SORTS, FleetFilter, FleetRow

EXPIRING_WITHIN = timedelta(days=30)
"""A license that ends sooner than this is shown as expiring."""

MAX_PAGE_SIZE = 200


class LicenseState(StrEnum):
    """Where an organization's license stands, as the fleet filter names it."""

    EXPIRED = "expired"
    EXPIRING = "expiring"
    VALID = "valid"
    PERPETUAL = "perpetual"


def license_state(expires_at: datetime | None, now: datetime) -> LicenseState:
    """The state of a license ending at ``expires_at`` (None: never) at ``now``."""
    if expires_at is None:
        return LicenseState.PERPETUAL
    if expires_at < now:
        return LicenseState.EXPIRED
    if expires_at < now + EXPIRING_WITHIN:
        return LicenseState.EXPIRING
    return LicenseState.VALID


def _version_or_none(text: str | None) -> Version | None:
    if not text:
        return None
    try:
        return Version.parse(text)
    except InvalidVersionError:
        return None


FleetCounts = list[tuple[str, str | None, int]]
"""Active organizations per (health state, current version text)."""


async def fleet_counts(session: AsyncSession) -> FleetCounts:
    """The fleet counted per health state and version, in one pass over the table."""
    return await repository.count_by_health_and_version(session)


def summary_of(counts: FleetCounts) -> FleetSummary:
    """Per health state and per current version (newest first, the never-reported and
    unreadable ones last) from :func:`fleet_counts`."""
    by_health: dict[str, int] = {}
    by_version: dict[Version, int] = {}
    unknown = 0
    for health, text, count in counts:
        by_health[health] = by_health.get(health, 0) + count
        version = _version_or_none(text)
        if version is None:
            unknown += count
        else:
            by_version[version] = by_version.get(version, 0) + count
    versions: list[FleetVersionCount] = [
        FleetVersionCount(version=version, count=count)
        for version, count in sorted(by_version.items(), reverse=True)
    ]
    if unknown:
        versions.append(FleetVersionCount(version=None, count=unknown))
    return FleetSummary(
        total=sum(by_health.values()),
        health={status: by_health.get(str(status), 0) for status in HealthStatus},
        versions=versions,
    )


async def fleet_summary(session: AsyncSession) -> FleetSummary:
    """Active organizations per health state and per current version."""
    return summary_of(await fleet_counts(session))


@dataclass(frozen=True)
class FleetQuery:
    """What the fleet list shows: filters, order and page (1-based)."""

    search: str | None = None
    health: HealthStatus | None = None
    version: str | None = None
    """A version text, or ``none`` for organizations that never reported one."""
    deployment_type: DeploymentType | None = None
    license: LicenseState | None = None
    sort: str = "name"
    descending: bool = False
    page: int = 1
    page_size: int = 50


@dataclass(frozen=True)
class FleetPage:
    """One page of the fleet list and how many match in all."""

    query: FleetQuery
    rows: list[FleetRow]
    total: int
    now: datetime
    pages: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "pages", max(1, math.ceil(self.total / self.query.page_size)))


def _filter_of(query: FleetQuery, now: datetime) -> FleetFilter:
    version = query.version
    return FleetFilter(
        search=query.search.strip() if query.search and query.search.strip() else None,
        health_status=str(query.health) if query.health else None,
        current_version="" if version == "none" else version,
        deployment_type=str(query.deployment_type) if query.deployment_type else None,
        license_state=str(query.license) if query.license else None,
        now=now,
        expiring_within=EXPIRING_WITHIN,
    )


def _counted_already(where: FleetFilter, counts: FleetCounts | None) -> int | None:
    """How many match, read from the fleet's counts when only health and version filter."""
    if counts is None or where.search or where.deployment_type or where.license_state:
        return None
    return sum(
        count
        for health, version, count in counts
        if where.health_status in (None, health) and where.current_version in (None, version or "")
    )


async def fleet_page(
    session: AsyncSession,
    *,
    query: FleetQuery,
    now: datetime,
    counts: FleetCounts | None = None,
) -> FleetPage:
    """The organizations matching ``query``, one page of them, and the number matching
    (taken from ``counts`` of this request when the filters allow, else counted).

    An unknown sort key falls back to the name; a page past the last shows the last.
    """
    if query.sort not in FLEET_SORTS:
        query = FleetQuery(**{**query.__dict__, "sort": "name"})
    page_size = min(max(query.page_size, 1), MAX_PAGE_SIZE)
    where = _filter_of(query, now)
    total = _counted_already(where, counts)
    if total is None:
        total = await repository.fleet_count(session, where)
    last_page = max(1, math.ceil(total / page_size))
    page = min(max(query.page, 1), last_page)
    query = FleetQuery(**{**query.__dict__, "page": page, "page_size": page_size})
    rows = await repository.fleet_rows(
        session,
        where,
        sort=query.sort,
        descending=query.descending,
        limit=page_size,
        offset=(page - 1) * page_size,
    )
    return FleetPage(query=query, rows=rows, total=total, now=now)
