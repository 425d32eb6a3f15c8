"""Operator routes of organizations and the fleet, under ``/api/operator``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from contracts import (
    DeploymentType,
    FleetSummary,
    HealthStatus,
    OrganizationCreated,
    OrganizationCreateRequest,
    OrganizationList,
    OrganizationUpdateRequest,
    OrganizationView,
    SecretRotated,
    VersionHistoryList,
)
from gcc.deps import ClockDep, OperatorCaller, OrganizationNamePath, SessionDep, SettingsDep
from gcc.organizations import fleet as fleet_queries
from gcc.organizations import history, service
from gcc.organizations.service import organization_view
from servicekit.openapi import error_responses, links_to

ORGANIZATION_OPERATIONS = [
    ("GET", "/api/operator/organizations/{name}"),
    ("PATCH", "/api/operator/organizations/{name}"),
    ("GET", "/api/operator/organizations/{name}/versions"),
    ("POST", "/api/operator/organizations/{name}/rotate-secret"),
    ("DELETE", "/api/operator/organizations/{name}"),
]
"""What can follow the creation of an organization, by its name."""

router = APIRouter(prefix="/api/operator", tags=["operator: organizations"])


@router.post(
    "/organizations",
    status_code=status.HTTP_201_CREATED,
    response_model=OrganizationCreated,
    responses={
        **error_responses(409),
        201: {
            "description": "The organization, with its credentials shown this once.",
            "links": links_to(ORGANIZATION_OPERATIONS, name="$response.body#/organization/name"),
        },
    },
)
async def create_organization(
    caller: OperatorCaller,
    body: OrganizationCreateRequest,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> OrganizationCreated:
    """Add an organization; its API key and webhook secret are shown only in this answer."""
    created = await service.create_organization(
        session, clock=clock, settings=settings, actor=caller, request=body
    )
    return OrganizationCreated(
        organization=organization_view(created.organization),
        api_key=created.api_key,
        webhook_secret=created.webhook_secret,
    )


@router.get("/organizations", response_model=OrganizationList)
async def list_organizations(
    _: OperatorCaller,
    session: SessionDep,
    health: Annotated[HealthStatus | None, Query(description="Only this health state.")] = None,
    deployment_type: Annotated[
        DeploymentType | None, Query(alias="deploymentType", description="Only this type.")
    ] = None,
) -> OrganizationList:
    """Active organizations by name."""
    organizations = await service.list_organizations(
        session, health_status=health, deployment_type=deployment_type
    )
    return OrganizationList(
        organizations=[organization_view(organization) for organization in organizations],
        total=len(organizations),
    )


@router.get(
    "/organizations/{name}", response_model=OrganizationView, responses=error_responses(404)
)
async def get_organization(
    _: OperatorCaller, name: OrganizationNamePath, session: SessionDep
) -> OrganizationView:
    """One active organization."""
    return organization_view(await service.get_organization(session, name=name))


@router.get(
    "/organizations/{name}/versions",
    response_model=VersionHistoryList,
    responses=error_responses(404),
)
async def get_version_history(
    _: OperatorCaller, name: OrganizationNamePath, session: SessionDep
) -> VersionHistoryList:
    """The versions an organization reported running, newest first."""
    return await history.version_history(session, name=name)


@router.patch(
    "/organizations/{name}", response_model=OrganizationView, responses=error_responses(404)
)
async def update_organization(
    caller: OperatorCaller,
    name: OrganizationNamePath,
    body: OrganizationUpdateRequest,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> OrganizationView:
    """Change the fields present in the body."""
    organization = await service.update_organization(
        session, clock=clock, settings=settings, actor=caller, name=name, request=body
    )
    return organization_view(organization)


@router.delete(
    "/organizations/{name}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(404),
)
async def delete_organization(
    caller: OperatorCaller, name: OrganizationNamePath, session: SessionDep, clock: ClockDep
) -> Response:
    """Soft-delete the organization; its API key stops working at once."""
    await service.delete_organization(session, clock=clock, actor=caller, name=name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/organizations/{name}/rotate-secret",
    response_model=SecretRotated,
    responses=error_responses(404),
)
async def rotate_secret(
    caller: OperatorCaller,
    name: OrganizationNamePath,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> SecretRotated:
    """Issue a new webhook secret; webhooks carry both signatures during the grace period."""
    rotated = await service.rotate_webhook_secret(
        session, clock=clock, settings=settings, actor=caller, name=name
    )
    return SecretRotated(
        webhook_secret=rotated.webhook_secret,
        previous_secret_expires_at=rotated.previous_secret_expires_at,
    )


@router.get("/fleet", response_model=FleetSummary)
async def fleet(_: OperatorCaller, session: SessionDep) -> FleetSummary:
    """Active organizations per health state and per current version."""
    return await fleet_queries.fleet_summary(session)
