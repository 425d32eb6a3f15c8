"""Customer reports: heartbeats and deployment reports, under ``/api/v1``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import asyncpg
from fastapi import APIRouter, Depends, Path

from contracts import (
    DeploymentScheduledReport,
    DeploymentStatusReport,
    OrganizationHeartbeat,
    ReceivedAck,
)
from gcc.deps import AuthorizationHeader, ClockDep, CustomerDep, RuntimeDep, SessionDep
from gcc.errors import Unauthorized
from gcc.health import reports, service
from gcc.security import bearer_token

router = APIRouter(prefix="/api/v1", tags=["customer: reports"])


async def presented_api_key(authorization: AuthorizationHeader = None) -> str:
    """The bearer token, unchecked: the heartbeat checks it in its own single statement."""
    token = bearer_token(authorization)
    if token is None:
        raise Unauthorized("An 'Authorization: Bearer <token>' header is required.")
    return token


PresentedApiKey = Annotated[str, Depends(presented_api_key)]


async def driver_connection(runtime: RuntimeDep) -> AsyncIterator[asyncpg.Connection]:
    """A pooled asyncpg connection used outside any transaction, so that each statement
    commits by itself: the heartbeat's single statement then needs no BEGIN and COMMIT round
    trips. Returned to the pool before the response is sent."""
    async with runtime.engine.connect() as connection:
        raw = await connection.get_raw_connection()
        driver: asyncpg.Connection = raw.driver_connection
        try:
            yield driver
        finally:
            if driver.is_closed():
                # lost while in use: SQLAlchemy did not see it happen, so tell its pool
                await connection.invalidate()


DriverConnection = Annotated[asyncpg.Connection, Depends(driver_connection, scope="function")]


@router.post("/organizations/{name}/heartbeat", response_model=ReceivedAck)
async def heartbeat(
    api_key: PresentedApiKey,
    name: Annotated[str, Path(max_length=100)],
    body: OrganizationHeartbeat,
    connection: DriverConnection,
    clock: ClockDep,
) -> ReceivedAck:
    """Record that the organization is alive, what it runs and how it feels.

    Authenticated like every customer route (401 for an unknown key, 403 for another
    organization's name), but in the same statement that records the heartbeat: this is the
    busiest route of GCC.
    """
    await service.record_heartbeat(
        connection, clock=clock, api_key=api_key, name=name, heartbeat=body
    )
    return ReceivedAck()


@router.post("/deployments/scheduled", response_model=ReceivedAck)
async def deployment_scheduled(
    organization: CustomerDep,
    body: DeploymentScheduledReport,
    session: SessionDep,
    clock: ClockDep,
) -> ReceivedAck:
    """An admin scheduled a release at the organization."""
    await reports.record_deployment_scheduled(
        session, clock=clock, organization=organization, report=body
    )
    return ReceivedAck()


@router.post("/deployments/status", response_model=ReceivedAck)
async def deployment_status(
    organization: CustomerDep,
    body: DeploymentStatusReport,
    session: SessionDep,
    clock: ClockDep,
) -> ReceivedAck:
    """A deployment started, finished, failed, was rolled back or passed its deadline."""
    await reports.record_deployment_status(
        session, clock=clock, organization=organization, report=body
    )
    return ReceivedAck()
