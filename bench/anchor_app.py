"""The anchor of the heartbeat benchmark: the least a FastAPI app can do for a heartbeat.

It validates the same body (:class:`contracts.OrganizationHeartbeat`, a declared body
parameter) and runs one UPDATE on a 100,000-row table through an asyncpg pool, with no
authentication and no batching. ``bench/gcc_heartbeat.py`` serves it with uvicorn beside GCC,
in the same run and at the same rate, and prints GCC's server CPU per heartbeat as a multiple
of the anchor's.

    ANCHOR_DSN=postgresql://... uvicorn anchor_app:app --app-dir bench --workers 2
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from fastapi import FastAPI, Request

from contracts import OrganizationHeartbeat

TABLE_DDL = """
CREATE TABLE IF NOT EXISTS anchor_organization (
    name text PRIMARY KEY,
    last_heartbeat_at timestamptz,
    current_version text,
    reported_status text,
    agent_last_poll_at timestamptz
)
"""

UPDATE = """
UPDATE anchor_organization
SET last_heartbeat_at = now(), current_version = coalesce($2, current_version),
    reported_status = $3, agent_last_poll_at = $4
WHERE name = $1
"""


async def create_table(connection: asyncpg.Connection, rows: int) -> None:
    """The anchor's table, holding ``rows`` organizations named as GCC's bench fleet."""
    await connection.execute(TABLE_DDL)
    await connection.execute(
        "INSERT INTO anchor_organization (name) "
        "SELECT format('org-%s', lpad(i::text, 7, '0')) FROM generate_series(0, $1 - 1) AS i",
        rows,
    )
    await connection.execute("ANALYZE anchor_organization")


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # GCC's pool size in the benchmark, so that both apps may wait for a connection alike
    pool_size = int(os.environ.get("ANCHOR_POOL_SIZE", "10"))
    async with asyncpg.create_pool(
        os.environ["ANCHOR_DSN"], min_size=1, max_size=pool_size
    ) as pool:
        app.state.pool = pool
        yield


app = FastAPI(lifespan=lifespan)


@app.post("/api/v1/organizations/{name}/heartbeat")
async def heartbeat(name: str, body: OrganizationHeartbeat, request: Request) -> dict[str, bool]:
    pool: asyncpg.Pool = request.app.state.pool
    await pool.execute(
        UPDATE,
        name,
        str(body.version) if body.version is not None else None,
        str(body.status),
        body.agent_last_poll,
    )
    return {"received": True}
