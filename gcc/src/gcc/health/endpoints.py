"""Customer reports: heartbeats and deployment reports, under ``/api/v1``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import TypeAdapter, ValidationError

from contracts import (
    DeploymentScheduledReport,
    DeploymentStatusReport,
    OrganizationHeartbeat,
    OrganizationName,
    ReceivedAck,
)
from gcc.deps import (
    AuthorizationHeader,
    ClockDep,
    CustomerDep,
    OrganizationNamePath,
    SessionDep,
)
from gcc.health import reports, service
from gcc.health.heartbeats import HeartbeatRecorder
from gcc.runtime import Runtime
from gcc.security import bearer_token
from servicekit.errors import Unauthorized
from servicekit.hotroute import HotRequest, HotResponse
from timekeeping import Clock

router = APIRouter(prefix="/api/v1", tags=["customer: reports"])


@dataclass(frozen=True)
class HeartbeatContext:
    """What recording a heartbeat needs: the presented key, the clock and the recorder."""

    api_key: str
    clock: Clock
    recorder: HeartbeatRecorder


def heartbeat_recorder(app: Any) -> HeartbeatRecorder:
    """The process's heartbeat recorder, made on first use (it batches across requests)."""
    recorder: HeartbeatRecorder | None = getattr(app.state, "heartbeat_recorder", None)
    if recorder is None:
        runtime: Runtime = app.state.runtime
        recorder = HeartbeatRecorder(runtime.engine)
        app.state.heartbeat_recorder = recorder
    return recorder


async def heartbeat_context(
    request: Request, authorization: AuthorizationHeader = None
) -> HeartbeatContext:
    """The bearer token (unchecked: the statement that records the heartbeat checks it), the
    clock, and the process's heartbeat recorder. One dependency rather than four: FastAPI's
    work per dependency is a fair share of a heartbeat's cost."""
    token = bearer_token(authorization)
    if token is None:
        raise Unauthorized("An 'Authorization: Bearer <token>' header is required.")
    runtime: Runtime = request.app.state.runtime
    return HeartbeatContext(
        api_key=token, clock=runtime.clock, recorder=heartbeat_recorder(request.app)
    )


HeartbeatContextDep = Annotated[HeartbeatContext, Depends(heartbeat_context)]


@router.post("/organizations/{name}/heartbeat", response_model=ReceivedAck)
async def heartbeat(
    context: HeartbeatContextDep,
    name: OrganizationNamePath,
    body: OrganizationHeartbeat,
) -> ReceivedAck:
    """Record that the organization is alive, what it runs and how it feels.

    Authenticated like every customer route (401 for an unknown key, 403 for another
    organization's name), but by the statement that records the heartbeat, which also
    records the others arriving at the same time: this is the busiest route of GCC.
    """
    await service.record_heartbeat(
        context.recorder,
        clock=context.clock,
        api_key=context.api_key,
        name=name,
        heartbeat=body,
    )
    return ReceivedAck()


HEARTBEAT_PATH = "/api/v1/organizations/{name}/heartbeat"
RECEIVED_BODY = ReceivedAck().model_dump_json().encode()
_ORGANIZATION_NAME: TypeAdapter[str] = TypeAdapter(OrganizationName)


async def answer_heartbeat(request: HotRequest) -> HotResponse | None:
    """The heartbeat route ahead of FastAPI (:mod:`servicekit.hotroute`): GCC's busiest request.

    Answers a heartbeat that carries a bearer token, a valid name and a valid JSON body, as
    :func:`heartbeat` does; anything else goes on to :func:`heartbeat`, which answers the
    error.
    """
    token = bearer_token(request.header(b"authorization"))
    if token is None or not request.is_json():
        return None
    try:
        name = _ORGANIZATION_NAME.validate_python(request.path_params["name"])
        body = OrganizationHeartbeat.model_validate_json(request.body)
    except ValidationError:
        return None
    runtime: Runtime = request.app.state.runtime
    await service.record_heartbeat(
        heartbeat_recorder(request.app),
        clock=runtime.clock,
        api_key=token,
        name=name,
        heartbeat=body,
    )
    return HotResponse(RECEIVED_BODY)


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
