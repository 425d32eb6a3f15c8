"""``/healthz`` and ``/readyz`` for a service."""

from __future__ import annotations

from collections.abc import Callable

import redis.asyncio as redis_asyncio
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine


class Liveness(BaseModel):
    """The answer of ``/healthz``."""

    status: str


class Readiness(BaseModel):
    """The answer of ``/readyz``, 200 or 503 alike: each dependency's check."""

    status: str
    """``ready`` or ``not_ready``."""
    checks: dict[str, str]
    """``ok`` or ``unreachable: <error>`` for the database and the broker."""


def add_probes(
    app: FastAPI,
    *,
    engine_of: Callable[[Request], AsyncEngine],
    redis_url_of: Callable[[Request], str],
) -> None:
    """Add ``GET /healthz`` (process up) and ``GET /readyz`` (database and broker answer)."""

    @app.get("/healthz", tags=["health"], response_model=Liveness)
    async def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    not_ready = {"model": Readiness, "description": "The database or the broker does not answer."}

    @app.get("/readyz", tags=["health"], response_model=Readiness, responses={503: not_ready})
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
