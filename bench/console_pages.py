"""Server time of the console's pages with 10,000 deployments in the history.

Target (issue: lists are paginated on the server): a page of a 10,000-deployment history
renders in under 50 ms of server time. The script creates its own database on the machine's
PostgreSQL (dropped at the end), migrates it, inserts 10,000 deployments and their history,
signs an admin in (a console session, as the sign-in link would open), and calls the app
in-process through httpx's ASGI transport, so the time measured is the app's own: routing,
the session and CSRF checks, the queries, and the template. Each line prints the median and
p95 wall time per page and the CPU the process spent per page; the anchor is
``GET /console/sign-in``, a page that reads no table, measured in the same run.

    uv run python bench/console_pages.py [--deployments 10000] [--requests 200]

The exit status is 1 when the median of a history page (25 rows, or 100) misses the target.
On a machine whose other work competes for the cores, the CPU per page is the steadier figure.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime

import asyncpg
import httpx

from consolekit.sessions import open_session
from customer_backend.app import create_app
from customer_backend.console.models import ConsoleSession
from customer_backend.console.web import SESSION_COOKIE
from customer_backend.migrations_runner import upgrade_to_head
from customer_backend.settings import Settings
from servicekit.db import create_engine, create_session_factory
from timekeeping import SystemClock

ADMIN_DSN = os.environ.get("BENCH_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
TARGET_MS = 50.0


async def seed(dsn: str, deployments: int) -> uuid.UUID:
    """``deployments`` releases, each deployed once (history rows), and one admin."""
    now = datetime.now(UTC)
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(
            """
            INSERT INTO scheduled_deployment (id, gcc_release_id, release_name, version,
                release_data, artifact_type, expected_sha256, is_forced, received_at,
                chart_downloaded, download_attempts, status, reported_to_gcc, created_at,
                updated_at, started_at, completed_at)
            SELECT gen_random_uuid(), gen_random_uuid(), 'v1.' || i || '.0', '1.' || i || '.0',
                '{}'::jsonb, 'helm', repeat('a', 64), false,
                $1::timestamptz - i * interval '1 hour', true, 1, 'success', true,
                $1::timestamptz - i * interval '1 hour', $1::timestamptz - i * interval '1 hour',
                $1::timestamptz - i * interval '1 hour',
                $1::timestamptz - i * interval '1 hour' + interval '4 minutes'
            FROM generate_series(1, $2::int) AS i
            """,
            now,
            deployments,
        )
        await connection.execute(
            """
            INSERT INTO deployment_history (id, deployment_id, gcc_release_id, release_name,
                version, deployed_at, status, helm_revision, is_rollback, is_current)
            SELECT gen_random_uuid(), id, gcc_release_id, release_name, version, completed_at,
                'success', row_number() OVER (ORDER BY received_at), false, false
            FROM scheduled_deployment
            """
        )
        admin_id = uuid.uuid4()
        await connection.execute(
            "INSERT INTO admin (id, email, name, role, is_active, token_hash, created_at) "
            "VALUES ($1, 'bench@acme.example', 'Bench', 'admin', true, repeat('b', 64), $2)",
            admin_id,
            now,
        )
        await connection.execute("ANALYZE")
        return admin_id
    finally:
        await connection.close()


async def measure(
    client: httpx.AsyncClient, path: str, requests: int
) -> tuple[float, float, float]:
    """Median and p95 wall milliseconds, and CPU milliseconds per request, of ``path``."""
    for _ in range(10):  # warm the pool, the templates and the query plans
        (await client.get(path)).raise_for_status()
    walls: list[float] = []
    cpu_start = time.process_time()
    for _ in range(requests):
        started = time.perf_counter()
        response = await client.get(path)
        walls.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
    cpu = (time.process_time() - cpu_start) * 1000 / requests
    walls.sort()
    return statistics.median(walls), walls[int(len(walls) * 0.95) - 1], cpu


async def run(arguments: argparse.Namespace) -> int:
    name = f"bench_console_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(ADMIN_DSN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    base = ADMIN_DSN.rsplit("/", 1)[0]
    dsn = f"{base}/{name}"
    url = dsn.replace("postgresql://", "postgresql+asyncpg://", 1)
    try:
        await asyncio.to_thread(upgrade_to_head, url)
        admin_id = await seed(dsn, arguments.deployments)
        engine = create_engine(url, pool_size=2)
        async with create_session_factory(engine)() as session:
            token = await open_session(
                session, table=ConsoleSession, clock=SystemClock(), principal_id=admin_id
            )
            await session.commit()
        await engine.dispose()
        with tempfile.TemporaryDirectory() as bucket:
            settings = Settings(
                database_url=url,
                bucket_provider="filesystem",
                bucket_root=bucket,
                console_plain_http=True,
                log_json=False,
                log_level="WARNING",
            )
            app = create_app(settings)
            async with app.router.lifespan_context(app):
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(
                    transport=transport,
                    base_url="http://console.bench",
                    cookies={SESSION_COOKIE: token},
                ) as client:
                    return await report(client, arguments)
    finally:
        admin = await asyncpg.connect(ADMIN_DSN)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def report(client: httpx.AsyncClient, arguments: argparse.Namespace) -> int:
    last_page = -(-arguments.deployments // 25)
    pages = [
        ("anchor: sign-in page (no table)", "/console/sign-in"),
        ("history, first page", "/console/deployments"),
        ("history, middle page", f"/console/deployments?page={last_page // 2}"),
        ("history, last page", f"/console/deployments?page={last_page}"),
        ("history, 100 per page", "/console/deployments?per_page=100"),
        ("overview", "/console"),
    ]
    print(f"{arguments.deployments} deployments in the history, {arguments.requests} requests each")
    print(f"{'page':34} {'median ms':>10} {'p95 ms':>8} {'CPU ms':>8} {'x anchor':>9}")
    anchor_cpu = None
    missed = False
    for label, path in pages:
        median, p95, cpu = await measure(client, path, arguments.requests)
        anchor_cpu = anchor_cpu or cpu
        print(f"{label:34} {median:10.2f} {p95:8.2f} {cpu:8.2f} {cpu / anchor_cpu:9.2f}")
        # every history page, the longest (100 rows) included, on its median; the p95 is
        # printed beside it (on a shared machine it measures the neighbours as much as the app)
        if label.startswith("history,") and median >= TARGET_MS:
            missed = True
    print(
        f"target: a history page under {TARGET_MS:.0f} ms of server time: "
        f"{'missed' if missed else 'met'}"
    )
    return 1 if missed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deployments", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200)
    return asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
