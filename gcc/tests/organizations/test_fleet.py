"""The fleet's counts and the organization list behind the console's fleet page: searched,
filtered, sorted and paged in the database."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from contracts import DeploymentType, HealthStatus
from gcc.organizations.fleet import (
    FleetQuery,
    LicenseState,
    fleet_counts,
    fleet_page,
    fleet_summary,
)
from servicekit.db import SessionFactory
from timekeeping import ManualClock


async def make_fleet(organization_factory: Any, clock: ManualClock) -> None:
    now = clock.now()
    await organization_factory(
        "alpha-bank", current_version="2.9.0", health_status="online", last_seen_at=now
    )
    await organization_factory(
        "beta-insurance",
        current_version="2.10.0",
        health_status="critical",
        license_expires_at=now - timedelta(days=1),
        last_seen_at=now - timedelta(days=3),
    )
    await organization_factory(
        "gamma-bank",
        current_version="2.10.0",
        health_status="online",
        deployment_type=DeploymentType.DOCKER,
        license_expires_at=now + timedelta(days=10),
        last_seen_at=now - timedelta(minutes=2),
    )
    await organization_factory("delta_100%", current_version=None, health_status="unknown")


async def page(sessions: SessionFactory, clock: ManualClock, **query: Any) -> list[str]:
    async with sessions() as session:
        found = await fleet_page(session, query=FleetQuery(**query), now=clock.now())
    return [row.name for row in found.rows]


async def test_summary_counts_every_state_and_orders_versions_numerically(
    organization_factory: Any, gcc_sessions: SessionFactory, gcc_clock: ManualClock
) -> None:
    await make_fleet(organization_factory, gcc_clock)

    async with gcc_sessions() as session:
        summary = await fleet_summary(session)

    assert summary.total == 4
    assert summary.health[HealthStatus.ONLINE] == 2
    assert summary.health[HealthStatus.DEGRADED] == 0
    assert [(str(entry.version), entry.count) for entry in summary.versions] == [
        ("2.10.0", 2),
        ("2.9.0", 1),
        ("None", 1),
    ]


async def test_search_matches_any_part_of_the_name_literally(
    organization_factory: Any, gcc_sessions: SessionFactory, gcc_clock: ManualClock
) -> None:
    await make_fleet(organization_factory, gcc_clock)

    assert await page(gcc_sessions, gcc_clock, search="BANK") == ["alpha-bank", "gamma-bank"]
    # % and _ are letters to look for, not patterns
    assert await page(gcc_sessions, gcc_clock, search="_100%") == ["delta_100%"]
    assert await page(gcc_sessions, gcc_clock, search="a_b") == []


async def test_filters_combine(
    organization_factory: Any, gcc_sessions: SessionFactory, gcc_clock: ManualClock
) -> None:
    await make_fleet(organization_factory, gcc_clock)

    assert await page(gcc_sessions, gcc_clock, health=HealthStatus.ONLINE, version="2.10.0") == [
        "gamma-bank"
    ]
    assert await page(gcc_sessions, gcc_clock, version="none") == ["delta_100%"]
    assert await page(gcc_sessions, gcc_clock, deployment_type=DeploymentType.DOCKER) == [
        "gamma-bank"
    ]
    assert await page(gcc_sessions, gcc_clock, license=LicenseState.EXPIRED) == ["beta-insurance"]
    assert await page(gcc_sessions, gcc_clock, license=LicenseState.EXPIRING) == ["gamma-bank"]
    assert await page(gcc_sessions, gcc_clock, license=LicenseState.VALID) == [
        "alpha-bank",
        "delta_100%",
    ]


async def test_sorts_put_missing_values_last_in_either_direction(
    organization_factory: Any, gcc_sessions: SessionFactory, gcc_clock: ManualClock
) -> None:
    await make_fleet(organization_factory, gcc_clock)

    assert await page(gcc_sessions, gcc_clock, sort="version") == [
        "alpha-bank",
        "beta-insurance",
        "gamma-bank",
        "delta_100%",
    ]
    assert await page(gcc_sessions, gcc_clock, sort="lastSeen", descending=True) == [
        "alpha-bank",
        "gamma-bank",
        "beta-insurance",
        "delta_100%",
    ]
    assert await page(gcc_sessions, gcc_clock, sort="no-such-column") == [
        "alpha-bank",
        "beta-insurance",
        "delta_100%",
        "gamma-bank",
    ]


async def test_pages_split_the_matches_and_a_page_past_the_end_shows_the_last(
    organization_factory: Any, gcc_sessions: SessionFactory, gcc_clock: ManualClock
) -> None:
    await make_fleet(organization_factory, gcc_clock)

    async with gcc_sessions() as session:
        second = await fleet_page(
            session, query=FleetQuery(page=2, page_size=3), now=gcc_clock.now()
        )
        beyond = await fleet_page(
            session, query=FleetQuery(page=99, page_size=3), now=gcc_clock.now()
        )

    assert [row.name for row in second.rows] == ["gamma-bank"]
    assert (second.total, second.pages) == (4, 2)
    assert beyond.query.page == 2


async def test_the_total_read_from_the_fleet_counts_is_the_one_counted(
    organization_factory: Any, gcc_sessions: SessionFactory, gcc_clock: ManualClock
) -> None:
    await make_fleet(organization_factory, gcc_clock)
    queries = [
        FleetQuery(),
        FleetQuery(health=HealthStatus.ONLINE),
        FleetQuery(version="2.10.0"),
        FleetQuery(version="none"),
        FleetQuery(health=HealthStatus.ONLINE, version="2.10.0"),
    ]

    async with gcc_sessions() as session:
        counts = await fleet_counts(session)
        for query in queries:
            read = await fleet_page(session, query=query, now=gcc_clock.now(), counts=counts)
            counted = await fleet_page(session, query=query, now=gcc_clock.now())
            assert (read.total, [row.name for row in read.rows]) == (
                counted.total,
                [row.name for row in counted.rows],
            ), query
