"""Typed FastAPI dependencies: routes read as plain signatures."""

from __future__ import annotations

from typing import Annotated, Protocol

from fastapi import Depends, Header, Path
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import (
    MAX_VERSION_LENGTH,
    VERSION_PATTERN,
    OrganizationName,
    ReleaseStatus,
    SignedManifest,
)
from gcc.artifacts.retention import ReleaseStatusLookup
from gcc.audit.service import Actor
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


async def require_operator(
    settings: SettingsDep, authorization: AuthorizationHeader = None
) -> Actor:
    """Admit the operator token only; changes are recorded as made by that token."""
    token = _require_token(authorization)
    if not tokens_match(token, settings.operator_token.get_secret_value()):
        raise Unauthorized("The token is not valid for this API.")
    return Actor.operator_token()


async def require_ci_or_operator(
    settings: SettingsDep, authorization: AuthorizationHeader = None
) -> Actor:
    """Admit the CI or the operator token; changes are recorded as made by that token."""
    token = _require_token(authorization)
    if tokens_match(token, settings.ci_token.get_secret_value()):
        return Actor.ci_token()
    if tokens_match(token, settings.operator_token.get_secret_value()):
        return Actor.operator_token()
    raise Unauthorized("The token is not valid for this API.")


async def organization_of_api_key(session: AsyncSession, api_key: str) -> Organization:
    """The organization whose API key this is; 401 for a key no organization has."""
    organization = await organization_repository.get_by_api_key_hash(session, hash_api_key(api_key))
    if organization is None:
        raise Unauthorized("The API key is not valid.")
    return organization


async def require_customer(
    session: SessionDep, authorization: AuthorizationHeader = None
) -> Organization:
    """The organization whose API key is presented."""
    return await organization_of_api_key(session, _require_token(authorization))


CustomerDep = Annotated[Organization, Depends(require_customer)]


OrganizationNamePath = Annotated[OrganizationName, Path(description="Organization name.")]
"""An organization's name in a route's path; one that no organization could have is a 422."""

VersionPath = Annotated[
    str,
    Path(
        pattern=VERSION_PATTERN,
        max_length=MAX_VERSION_LENGTH,
        description="A release version, e.g. 2.3.0",
    ),
]
"""A release version in a route's path; text that is no semantic version is a 422."""


async def require_own_organization(
    organization: CustomerDep, name: OrganizationNamePath
) -> Organization:
    """The caller's organization, which must be the one named in the path."""
    if organization.name != name:
        raise Forbidden("This API key does not open that organization.", field="name")
    return organization


CiCaller = Annotated[str, Depends(require_ci)]
OperatorCaller = Annotated[Actor, Depends(require_operator)]
CiOrOperatorCaller = Annotated[Actor, Depends(require_ci_or_operator)]
OwnOrganization = Annotated[Organization, Depends(require_own_organization)]


async def get_release_status_lookup() -> ReleaseStatusLookup:
    """How artifacts learn the state of a version's release: the releases domain answers."""
    return release_service.release_status


ReleaseStatusDep = Annotated[ReleaseStatusLookup, Depends(get_release_status_lookup)]


class ManifestLookup(Protocol):
    """The signed manifest of the release of ``version`` (canonical text) as sent now."""

    async def __call__(self, session: AsyncSession, *, version: str) -> SignedManifest | None: ...


async def get_manifest_lookup(runtime: RuntimeDep) -> ManifestLookup:
    """How a download learns its release's manifest: the releases domain answers, signing
    afresh with the process's key when needed."""

    async def lookup(session: AsyncSession, *, version: str) -> SignedManifest | None:
        return await release_service.manifest_of_version(
            session, version=version, signer=runtime.manifest_signer, now=runtime.clock.now()
        )

    return lookup


ManifestLookupDep = Annotated[ManifestLookup, Depends(get_manifest_lookup)]


async def get_customer_release_status_lookup(organization: CustomerDep) -> ReleaseStatusLookup:
    """How a customer's download learns the state of a version's release: as the calling
    organization may know it, so a release targeted at other organizations is unknown."""

    async def seen_by_caller(
        session: AsyncSession, *, version: str, lock: bool = False
    ) -> ReleaseStatus | None:
        return await release_service.release_status_seen_by(
            session, version=version, organization_name=organization.name
        )

    return seen_by_caller


CustomerReleaseStatusDep = Annotated[
    ReleaseStatusLookup, Depends(get_customer_release_status_lookup)
]
