"""Customer reports: heartbeats and deployment reports, under ``/api/v1``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request

from contracts import (
    DeploymentScheduledReport,
    DeploymentStatusReport,
    OrganizationHeartbeat,
    ReceivedAck,
)
from gcc.deps import AuthorizationHeader, ClockDep, CustomerDep, RuntimeDep, SessionDep
from gcc.errors import Unauthorized
from gcc.health import reports, service
from gcc.health.heartbeats import HeartbeatRecorder
from gcc.security import bearer_token

router = APIRouter(prefix="/api/v1", tags=["customer: reports"])


async def presented_api_key(authorization: AuthorizationHeader = None) -> str:
    """The bearer token, unchecked: the statement that records the heartbeat checks it."""
    token = bearer_token(authorization)
    if token is None:
        raise Unauthorized("An 'Authorization: Bearer <token>' header is required.")
    return token


PresentedApiKey = Annotated[str, Depends(presented_api_key)]


async def heartbeat_recorder(request: Request, runtime: RuntimeDep) -> HeartbeatRecorder:
    """The process's heartbeat recorder, made on first use (it batches across requests)."""
    recorder: HeartbeatRecorder | None = getattr(request.app.state, "heartbeat_recorder", None)
    if recorder is None:
        recorder = HeartbeatRecorder(runtime.engine)
        request.app.state.heartbeat_recorder = recorder
    return recorder


HeartbeatRecorderDep = Annotated[HeartbeatRecorder, Depends(heartbeat_recorder)]


@router.post("/organizations/{name}/heartbeat", response_model=ReceivedAck)
async def heartbeat(
    api_key: PresentedApiKey,
    name: Annotated[str, Path(max_length=100)],
    body: OrganizationHeartbeat,
    recorder: HeartbeatRecorderDep,
    clock: ClockDep,
) -> ReceivedAck:
    """Record that the organization is alive, what it runs and how it feels.

    Authenticated like every customer route (401 for an unknown key, 403 for another
    organization's name), but by the statement that records the heartbeat, which also
    records the others arriving at the same time: this is the busiest route of GCC.
    """
    await service.record_heartbeat(
        recorder, clock=clock, api_key=api_key, name=name, heartbeat=body
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
