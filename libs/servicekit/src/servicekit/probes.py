"""``/healthz`` and ``/readyz`` for a service."""

from __future__ import annotations

from collections.abc import Callable

import redis.asyncio as redis_asyncio
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine


def add_probes(
    app: FastAPI,
    *,
    engine_of: Callable[[Request], AsyncEngine],
    redis_url_of: Callable[[Request], str],
) -> None:
    """Add ``GET /healthz`` (process up) and ``GET /readyz`` (database and broker answer)."""

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"])
    async def readyz(request: Request) -> JSONResponse:
        """The database and the broker answer."""
        checks: dict[str, str] = {}
        try:
            async with engine_of(request).connect() as connection:
                await connection.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"unreachable: {type(exc).__name__}"
        try:
            client = redis_asyncio.Redis.from_url(redis_url_of(request))
            try:
                await client.ping()
            finally:
                await client.aclose()
            checks["broker"] = "ok"
        except Exception as exc:
            checks["broker"] = f"unreachable: {type(exc).__name__}"
        ready = all(value == "ok" for value in checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "not_ready", "checks": checks},
            status_code=200 if ready else 503,
        )
