"""Release routes: CI creates and publishes, operators look, customers poll for updates."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query

from contracts import (
    OperatorReleaseDetail,
    OperatorReleaseList,
    OperatorReleaseSummary,
    ReleaseCreateRequest,
    ReleaseCreateResponse,
    ReleasePublishRequest,
    ReleasePublishResponse,
    UpdatesPollResponse,
)
from gcc.deps import (
    CiCaller,
    CiOrOperatorCaller,
    ClockDep,
    OperatorCaller,
    OwnOrganization,
    RuntimeDep,
    SessionDep,
    VersionPath,
)
from gcc.releases import service, updates
from servicekit.openapi import error_responses, links_to

router = APIRouter(tags=["releases"])

RELEASE_OPERATIONS = [
    ("GET", "/api/operator/releases/{version}"),
    ("POST", "/api/internal/releases/{version}/publish"),
    ("POST", "/api/internal/releases/{version}/deprecate"),
    ("POST", "/api/operator/releases/{version}/redeliver"),
]
"""What can follow the creation of a draft release, by its version."""


@router.post(
    "/api/internal/releases",
    response_model=ReleaseCreateResponse,
    responses={
        **error_responses(409),
        200: {
            "description": "The draft release.",
            "links": links_to(RELEASE_OPERATIONS, version="$response.body#/version"),
        },
    },
    summary="Create (or overwrite) a draft release (CI)",
)
async def create_release(
    body: ReleaseCreateRequest, caller: CiCaller, session: SessionDep, clock: ClockDep
) -> ReleaseCreateResponse:
    """Create a draft; a draft of the same version is overwritten, a published one is 409."""
    return await service.create_release(session, clock=clock, request=body, created_by=caller)


@router.post(
    "/api/internal/releases/{version}/publish",
    response_model=ReleasePublishResponse,
    responses=error_responses(404, 409),
    summary="Publish a draft release to the fleet (CI or operator)",
)
async def publish_release(
    version: VersionPath,
    caller: CiOrOperatorCaller,
    session: SessionDep,
    clock: ClockDep,
    runtime: RuntimeDep,
    body: Annotated[ReleasePublishRequest | None, Body()] = None,
) -> ReleasePublishResponse:
    """Create the deployment targets and enqueue the webhooks; with a `rollout` plan, only the
    first wave's now, the others as the rollout advances."""
    return await service.publish_release(
        session,
        clock=clock,
        actor=caller,
        version_text=version,
        send_task=runtime.send_task,
        signer=runtime.manifest_signer,
        forced_deadline=runtime.settings.forced_deadline,
        plan=body.rollout if body is not None else None,
        rings=runtime.settings.rollout_rings,
    )


@router.post(
    "/api/internal/releases/{version}/deprecate",
    response_model=OperatorReleaseSummary,
    responses=error_responses(404, 409),
    summary="Deprecate a published release (CI or operator)",
)
async def deprecate_release(
    version: VersionPath, caller: CiOrOperatorCaller, session: SessionDep, clock: ClockDep
) -> OperatorReleaseSummary:
    """Stop offering the release through the updates poll."""
    return await service.deprecate_release(session, clock=clock, actor=caller, version_text=version)


@router.get(
    "/api/operator/releases",
    response_model=OperatorReleaseList,
    summary="List releases, newest first (operator)",
)
async def list_releases(_caller: OperatorCaller, session: SessionDep) -> OperatorReleaseList:
    """Every release with its status and target counts."""
    return await service.list_releases(session)


@router.get(
    "/api/operator/releases/{version}",
    response_model=OperatorReleaseDetail,
    responses=error_responses(404),
    summary="One release with every target's delivery and deployment (operator)",
)
async def get_release(
    version: VersionPath, _caller: OperatorCaller, session: SessionDep
) -> OperatorReleaseDetail:
    """The release, its artifacts, and each targeted organization's status."""
    return await service.release_detail(session, version_text=version)


@router.get(
    "/api/v1/organizations/{name}/updates",
    response_model=UpdatesPollResponse,
    responses=error_responses(403),
    summary="Published releases this organization has not taken up (customer poll)",
)
async def poll_updates(
    organization: OwnOrganization,
    session: SessionDep,
    clock: ClockDep,
    runtime: RuntimeDep,
    heartbeat_enabled: Annotated[
        bool | None,
        Query(
            alias="heartbeatEnabled",
            description="false: this backend sends no heartbeats (its health is then "
            "`unknown`); true: it does again; absent: unchanged.",
        ),
    ] = None,
) -> UpdatesPollResponse:
    """The webhook bodies of releases whose webhook was missed, oldest first."""
    return await updates.pending_updates(
        session,
        clock=clock,
        organization=organization,
        heartbeat_enabled=heartbeat_enabled,
        signer=runtime.manifest_signer,
    )
