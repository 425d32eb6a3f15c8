"""Typed FastAPI dependencies: routes read as plain signatures."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Path
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import OrganizationName
from gcc.artifacts.service import ReleaseStatusLookup
from gcc.organizations import repository as organization_repository
from gcc.organizations.models import Organization
from gcc.releases import service as release_service
from gcc.runtime import Runtime
from gcc.security import hash_api_key
from gcc.settings import Settings
from servicekit.auth import bearer_token, tokens_match
from servicekit.deps import request_clock, request_runtime, request_session, request_settings
from servicekit.errors import Forbidden, Unauthorized
from timekeeping import Clock

RuntimeDep = Annotated[Runtime, Depends(request_runtime)]
SettingsDep = Annotated[Settings, Depends(request_settings)]
ClockDep = Annotated[Clock, Depends(request_clock)]
SessionDep = Annotated[AsyncSession, Depends(request_session, scope="function")]
AuthorizationHeader = Annotated[str | None, Header(alias="Authorization", include_in_schema=False)]


def _require_token(authorization: str | None) -> str:
    token = bearer_token(authorization)
    if token is None:
        raise Unauthorized("An 'Authorization: Bearer <token>' header is required.")
    return token


async def require_ci(settings: SettingsDep, authorization: AuthorizationHeader = None) -> str:
    """Admit the CI token only; returns the caller's name."""
    token = _require_token(authorization)
    if not tokens_match(token, settings.ci_token.get_secret_value()):
        raise Unauthorized("The token is not valid for this API.")
    return "ci"


async def require_operator(settings: SettingsDep, authorization: AuthorizationHeader = None) -> str:
    """Admit the operator token only."""
    token = _require_token(authorization)
    if not tokens_match(token, settings.operator_token.get_secret_value()):
        raise Unauthorized("The token is not valid for this API.")
    return "operator"


async def require_ci_or_operator(
    settings: SettingsDep, authorization: AuthorizationHeader = None
) -> str:
    """Admit the CI or the operator token."""
    token = _require_token(authorization)
    if tokens_match(token, settings.ci_token.get_secret_value()):
        return "ci"
    if tokens_match(token, settings.operator_token.get_secret_value()):
        return "operator"
    raise Unauthorized("The token is not valid for this API.")


async def require_customer(
    session: SessionDep, authorization: AuthorizationHeader = None
) -> Organization:
    """The organization whose API key is presented."""
    token = _require_token(authorization)
    organization = await organization_repository.get_by_api_key_hash(session, hash_api_key(token))
    if organization is None:
        raise Unauthorized("The API key is not valid.")
    return organization


CustomerDep = Annotated[Organization, Depends(require_customer)]


OrganizationNamePath = Annotated[OrganizationName, Path(description="Organization name.")]
"""An organization's name in a route's path; one that no organization could have is a 422."""


async def require_own_organization(
    organization: CustomerDep, name: OrganizationNamePath
) -> Organization:
    """The caller's organization, which must be the one named in the path."""
    if organization.name != name:
        raise Forbidden("This API key does not open that organization.", field="name")
    return organization


CiCaller = Annotated[str, Depends(require_ci)]
OperatorCaller = Annotated[str, Depends(require_operator)]
CiOrOperatorCaller = Annotated[str, Depends(require_ci_or_operator)]
OwnOrganization = Annotated[Organization, Depends(require_own_organization)]


async def get_release_status_lookup() -> ReleaseStatusLookup:
    """How artifacts learn the state of a version's release: the releases domain answers."""
    return release_service.release_status


ReleaseStatusDep = Annotated[ReleaseStatusLookup, Depends(get_release_status_lookup)]
