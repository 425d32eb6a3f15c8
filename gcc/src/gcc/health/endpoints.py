"""Customer reports: heartbeats and deployment reports, under ``/api/v1``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from contracts import (
    DeploymentScheduledReport,
    DeploymentStatusReport,
    OrganizationHeartbeat,
    ReceivedAck,
)
from gcc.deps import (
    AuthorizationHeader,
    ClockDep,
    CustomerDep,
    OrganizationNamePath,
    SessionDep,
    organization_of_api_key,
)
from gcc.health import reports, service
from gcc.health.heartbeats import HeartbeatRecorder
from gcc.runtime import Runtime
from servicekit.auth import bearer_token
from servicekit.db import SessionFactory, session_scope
from servicekit.errors import Unauthorized
from servicekit.openapi import error_responses
from timekeeping import Clock

router = APIRouter(prefix="/api/v1", tags=["customer: reports"])


@dataclass(frozen=True)
class HeartbeatContext:
    """What recording a heartbeat needs: the presented key, the clock and the recorder."""

    api_key: str
    clock: Clock
    recorder: HeartbeatRecorder
    sessions: SessionFactory

    async def check_credentials(self) -> None:
        """401 for a key no organization has: the error handlers call this when they refuse
        the request before the recording statement checked the key (a malformed body)."""
        async with session_scope(self.sessions) as session:
            await organization_of_api_key(session, self.api_key)


async def heartbeat_context(
    request: Request, authorization: AuthorizationHeader = None
) -> HeartbeatContext:
    """The bearer token (unchecked: the statement that records the heartbeat checks it, or the
    error handlers before they refuse the body), the clock, and the process's heartbeat
    recorder. One dependency rather than four: FastAPI's
    work per dependency is a fair share of a heartbeat's cost."""
    token = bearer_token(authorization)
    if token is None:
        raise Unauthorized("An 'Authorization: Bearer <token>' header is required.")
    runtime: Runtime = request.app.state.runtime
    return HeartbeatContext(
        api_key=token,
        clock=runtime.clock,
        recorder=runtime.heartbeat_recorder,
        sessions=runtime.session_factory,
    )


HeartbeatContextDep = Annotated[HeartbeatContext, Depends(heartbeat_context)]

RECEIVED_BODY = ReceivedAck().model_dump_json().encode()
"""The answer to every recorded report, encoded once."""


def received() -> Response:
    """``{"received": true}``, not serialized again for every request."""
    return Response(RECEIVED_BODY, media_type="application/json")


@router.post(
    "/organizations/{name}/heartbeat", response_model=ReceivedAck, responses=error_responses(403)
)
async def heartbeat(
    context: HeartbeatContextDep,
    name: OrganizationNamePath,
    body: OrganizationHeartbeat,
) -> Response:
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
    return received()


@router.post(
    "/deployments/scheduled", response_model=ReceivedAck, responses=error_responses(403, 404)
)
async def deployment_scheduled(
    organization: CustomerDep,
    body: DeploymentScheduledReport,
    session: SessionDep,
    clock: ClockDep,
) -> Response:
    """An admin scheduled a release at the organization."""
    await reports.record_deployment_scheduled(
        session, clock=clock, organization=organization, report=body
    )
    return received()


@router.post("/deployments/status", response_model=ReceivedAck, responses=error_responses(403, 404))
async def deployment_status(
    organization: CustomerDep,
    body: DeploymentStatusReport,
    session: SessionDep,
    clock: ClockDep,
) -> Response:
    """A deployment started, finished, failed, was rolled back or passed its deadline."""
    await reports.record_deployment_status(
        session, clock=clock, organization=organization, report=body
    )
    return received()
