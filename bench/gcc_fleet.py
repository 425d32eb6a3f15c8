"""A throw-away GCC database holding a large fleet, shared by the GCC health and heartbeat
benchmarks.

``scratch_database()`` creates a database on the machine's PostgreSQL, migrates it, and drops
it on exit; ``insert_fleet()`` COPYs organizations in one round trip, with API keys derived
from their index so a load generator can rebuild them without a lookup.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

import asyncpg

from gcc.migrations_runner import upgrade_to_head

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"


def api_key_of(index: int) -> str:
    """The API key of the fleet's organization number ``index``."""
    return f"gcc_bench-{index:07d}"


def name_of(index: int) -> str:
    """The name of the fleet's organization number ``index``."""
    return f"org-{index:07d}"


@asynccontextmanager
async def scratch_database(label: str) -> AsyncIterator[str]:
    """A new, migrated database (as an asyncpg SQLAlchemy URL), dropped afterwards."""
    name = f"gcc_bench_{label}_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(ADMIN_DSN)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    try:
        # alembic runs its own event loop: keep it off this one
        await asyncio.to_thread(upgrade_to_head, url)
        yield url
    finally:
        admin = await asyncpg.connect(ADMIN_DSN)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


def plain_dsn(url: str) -> str:
    """The libpq form of a SQLAlchemy URL."""
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def insert_fleet(
    url: str,
    count: int,
    *,
    now: datetime,
    seen_within: timedelta | None = None,
    seed: int = 7,
) -> list[uuid.UUID]:
    """COPY ``count`` organizations in; with ``seen_within``, each has a heartbeat at a random
    moment in that window before ``now`` (5% never seen). Their ids, by index."""
    rng = random.Random(seed)
    ids = [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(count)]
    versions = ["2.1.0", "2.2.0", "2.2.1", "2.3.0"]
    records = []
    for index, organization_id in enumerate(ids):
        heartbeat_at = None
        if seen_within is not None and rng.random() > 0.05:
            heartbeat_at = now - seen_within * rng.random()
        records.append(
            (
                organization_id,
                name_of(index),
                "kubernetes" if index % 3 else "docker",
                f"https://{name_of(index)}.example.com/api/deployment/webhook",
                "whsec_" + hashlib.sha256(f"secret-{index}".encode()).hexdigest()[:43],
                hashlib.sha256(api_key_of(index).encode()).hexdigest(),
                now + timedelta(days=365),
                versions[index % len(versions)],
                "unknown",
                False,
                heartbeat_at,
                now,
                now,
            )
        )
    connection = await asyncpg.connect(plain_dsn(url))
    try:
        await connection.copy_records_to_table(
            "organization",
            records=records,
            columns=[
                "id",
                "name",
                "deployment_type",
                "webhook_endpoint",
                "webhook_secret",
                "api_key_hash",
                "license_expires_at",
                "current_version",
                "health_status",
                "is_online",
                "last_heartbeat_at",
                "created_at",
                "updated_at",
            ],
        )
        # as autovacuum would have done on a live table: hint bits set, statistics fresh
        await connection.execute("VACUUM (ANALYZE) organization")
    finally:
        await connection.close()
    return ids
