"""Server time of the operator console's fleet page with a large fleet (target: 100,000
organizations, every page under 200 ms).

The script creates its own database (dropped at the end), COPYs in the fleet with heartbeats
spread over the last 48 hours, 30 versions, health states from the last heartbeat, and
licenses ending anywhere from a month ago to two years ahead. It signs an operator in (a
session row, as the sign-in link makes one) and asks the real app for the page, in this
process through its ASGI interface: the time measured is the server's alone (routing, session,
the queries, rendering), with no network or client in it.

Each case (the first page, a search, filters, each sort, a page deep in the list) is asked
``--repeats`` times after a warm-up. The script prints the wall time (median and 95th
percentile) and the server CPU per page: the app's process and its PostgreSQL backend (the app
keeps one connection, whose backend's CPU is read from ``/proc``). On a machine where other
work competes for the cores the wall time grows with the load, the CPU hardly: the target
(under 200 ms) is checked on the CPU per page, and the wall time is printed beside it.

    uv run python bench/gcc_console_fleet.py [--organizations 100000] [--repeats 20]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
from gcc_fleet import insert_fleet, plain_dsn, scratch_database

from timekeeping import ManualClock

TARGET_MS = 200.0
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)

CASES: list[tuple[str, dict[str, str]]] = [
    ("first page, by name", {}),
    ("search 'org-0012'", {"q": "org-0012"}),
    ("health critical", {"health": "critical"}),
    ("version 2.17.0, docker", {"version": "2.17.0", "type": "docker"}),
    ("license expiring", {"license": "expiring"}),
    ("sort by last seen, newest", {"sort": "lastSeen", "dir": "desc"}),
    ("sort by version", {"sort": "version"}),
    ("sort by license, page 500", {"sort": "license", "page": "500"}),
    ("by name, page 1,999", {"page": "1999"}),
    (
        "offline, sort by last seen, page 20",
        {"health": "offline", "sort": "lastSeen", "page": "20"},
    ),
]


async def shape_fleet(url: str) -> None:
    """30 versions, health from the last heartbeat, licenses spread over 25 months."""
    connection = await asyncpg.connect(plain_dsn(url))
    try:
        await connection.execute(
            """
            UPDATE organization SET
              current_version = '2.' || (abs(hashtext(name)) % 30) || '.0',
              license_expires_at = $1::timestamptz
                + ((abs(hashtext(name || 'l')) % 760) - 30) * interval '1 day',
              last_seen_at = last_heartbeat_at,
              health_status = CASE
                WHEN last_heartbeat_at IS NULL THEN 'unknown'
                WHEN last_heartbeat_at > $1::timestamptz - interval '10 minutes' THEN 'online'
                WHEN last_heartbeat_at > $1::timestamptz - interval '1 hour' THEN 'degraded'
                WHEN last_heartbeat_at > $1::timestamptz - interval '24 hours' THEN 'offline'
                ELSE 'critical' END
            """,
            NOW,
        )
        await connection.execute("VACUUM (ANALYZE) organization")
    finally:
        await connection.close()


async def signed_in_cookie(url: str) -> str:
    """An operator and a live console session; the session's cookie value."""
    from consolekit.sessions import open_session
    from contracts import OperatorRole
    from gcc.audit.service import Actor
    from gcc.operators.models import OperatorSession
    from gcc.operators.service import add_operator
    from servicekit.db import create_engine, create_session_factory, session_scope

    engine = create_engine(url, pool_size=1)
    try:
        async with session_scope(create_session_factory(engine)) as session:
            operator = await add_operator(
                session,
                clock=ManualClock(NOW),
                actor=Actor.command_line(),
                email="bench@vendor.example",
                name="Bench",
                role=OperatorRole.VIEWER,
            )
            return await open_session(
                session, table=OperatorSession, clock=ManualClock(NOW), principal_id=operator.id
            )
    finally:
        await engine.dispose()


def cpu_seconds_of(pid: int) -> float:
    """User and system CPU a process has used, from ``/proc``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def backend_pids(url: str) -> list[int]:
    """The PostgreSQL backends serving the scratch database, but for this query's own."""
    connection = await asyncpg.connect(plain_dsn(url))
    try:
        rows = await connection.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )
        return [row["pid"] for row in rows]
    finally:
        await connection.close()


async def measure(url: str, repeats: int) -> list[tuple[str, float, float, float, float, int]]:
    """(case, median ms, p95 ms, app CPU ms, database CPU ms per page, rows matched)."""
    from gcc.app import create_app
    from gcc.console.web import SESSION_COOKIE
    from gcc.settings import Settings

    settings = Settings(
        database_url=url,
        database_pool_size=1,
        console_plain_http=True,
        log_level="WARNING",
        log_json=False,
    )
    app = create_app(settings, clock=ManualClock(NOW), send_task=lambda *_args, **_kw: None)
    cookie = await signed_in_cookie(url)
    results = []
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://console.bench",
            cookies={SESSION_COOKIE: cookie},
        ) as client,
    ):
        for label, params in CASES:
            for _ in range(3):  # warm-up: plans cached, pages in PostgreSQL's buffers
                warm = await client.get("/console", params=params)
                assert warm.status_code == 200, warm.text[:500]
            timings = []
            pids = await backend_pids(url)
            database_started = sum(cpu_seconds_of(pid) for pid in pids)
            cpu_started = time.process_time()
            for _ in range(repeats):
                started = time.perf_counter()
                response = await client.get("/console", params=params)
                timings.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200
            cpu_ms = (time.process_time() - cpu_started) * 1000 / repeats
            database_ms = (
                (sum(cpu_seconds_of(pid) for pid in pids) - database_started) * 1000 / repeats
            )
            matched = int(
                response.text.split(" organizations match")[0].rsplit(">", 1)[-1].replace(",", "")
            )
            timings.sort()
            p95 = timings[min(len(timings) - 1, round(0.95 * (len(timings) - 1)))]
            results.append((label, statistics.median(timings), p95, cpu_ms, database_ms, matched))
    return results


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--organizations", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=20)
    arguments = parser.parse_args()
    from datetime import timedelta

    async with scratch_database("console") as url:
        started = time.perf_counter()
        await insert_fleet(url, arguments.organizations, now=NOW, seen_within=timedelta(hours=48))
        await shape_fleet(url)
        print(
            f"fleet of {arguments.organizations:,} organizations ready in "
            f"{time.perf_counter() - started:.1f} s"
        )
        results = await measure(url, arguments.repeats)
    print(
        f"\n{'case':<38} {'matches':>8} {'wall median':>11} {'wall p95':>9} "
        f"{'app CPU':>8} {'db CPU':>7} {'server CPU':>10}  (ms per page)"
    )
    for label, median, p95, app_cpu, database_cpu, matched in results:
        print(
            f"{label:<38} {matched:>8,} {median:>11.1f} {p95:>9.1f} "
            f"{app_cpu:>8.1f} {database_cpu:>7.1f} {app_cpu + database_cpu:>10.1f}"
        )
    worst = max(app_cpu + database_cpu for _l, _m, _p, app_cpu, database_cpu, _c in results)
    load = os.getloadavg()[0]
    verdict = "within" if worst < TARGET_MS else "OVER"
    print(
        f"\nworst server CPU per page {worst:.1f} ms: {verdict} the {TARGET_MS:.0f} ms target "
        f"(load average {load:.1f} on {os.cpu_count()} cores during the run)"
    )
    return 0 if worst < TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
