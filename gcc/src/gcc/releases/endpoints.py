"""Release routes: CI creates and publishes, operators look, customers poll for updates."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from contracts import (
    ErrorResponse,
    OperatorReleaseDetail,
    OperatorReleaseList,
    OperatorReleaseSummary,
    ReleaseCreateRequest,
    ReleaseCreateResponse,
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
)
from gcc.releases import service

router = APIRouter(tags=["releases"])

VersionPath = Annotated[str, Path(max_length=128, description="A release version, e.g. 2.3.0")]


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": ErrorResponse} for code in (400, 401, 422, *codes)}


@router.post(
    "/api/internal/releases",
    response_model=ReleaseCreateResponse,
    responses=_errors(409),
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
    responses=_errors(404, 409),
    summary="Publish a draft release to the fleet (CI or operator)",
)
async def publish_release(
    version: VersionPath,
    _caller: CiOrOperatorCaller,
    session: SessionDep,
    clock: ClockDep,
    runtime: RuntimeDep,
) -> ReleasePublishResponse:
    """Create the deployment targets and enqueue the webhooks."""
    return await service.publish_release(
        session, clock=clock, version_text=version, send_task=runtime.send_task
    )


@router.post(
    "/api/internal/releases/{version}/deprecate",
    response_model=OperatorReleaseSummary,
    responses=_errors(404, 409),
    summary="Deprecate a published release (CI or operator)",
)
async def deprecate_release(
    version: VersionPath, _caller: CiOrOperatorCaller, session: SessionDep, clock: ClockDep
) -> OperatorReleaseSummary:
    """Stop offering the release through the updates poll."""
    return await service.deprecate_release(session, clock=clock, version_text=version)


@router.get(
    "/api/operator/releases",
    response_model=OperatorReleaseList,
    responses=_errors(),
    summary="List releases, newest first (operator)",
)
async def list_releases(_caller: OperatorCaller, session: SessionDep) -> OperatorReleaseList:
    """Every release with its status and target counts."""
    return await service.list_releases(session)


@router.get(
    "/api/operator/releases/{version}",
    response_model=OperatorReleaseDetail,
    responses=_errors(404),
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
    responses=_errors(403),
    summary="Published releases this organization has not taken up (customer poll)",
)
async def poll_updates(organization: OwnOrganization, session: SessionDep) -> UpdatesPollResponse:
    """The webhook bodies of releases whose webhook was missed, oldest first."""
    return await service.pending_updates(session, organization=organization)
