"""Typed FastAPI dependencies: routes read as plain signatures."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Path, Request
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import OrganizationName
from gcc.artifacts.service import ReleaseStatusLookup
from gcc.organizations import repository as organization_repository
from gcc.organizations.models import Organization
from gcc.releases import service as release_service
from gcc.runtime import Runtime
from gcc.security import bearer_token, hash_api_key, tokens_match
from gcc.settings import Settings
from servicekit.deps import request_clock, request_session
from servicekit.errors import Forbidden, Unauthorized
from timekeeping import Clock


# Dependencies are "async def" although none awaits: FastAPI runs a plain "def" dependency in
# its thread pool, a thread hop per dependency on every request.
async def get_runtime(request: Request) -> Runtime:
    """The process runtime built in the app's lifespan."""
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_settings_dep(runtime: RuntimeDep) -> Settings:
    """The settings the app was built with."""
    return runtime.settings


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
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
