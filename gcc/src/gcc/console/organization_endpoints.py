"""The organization page: license, versions, heartbeats, deliveries and escalations; rotate
its webhook secret and change its license."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from contracts import OrganizationUpdateRequest
from gcc.console.web import PREFIX, ConsoleActor, ConsoleViewer, render, see_other
from gcc.deps import ClockDep, OrganizationNamePath, SessionDep, SettingsDep
from gcc.escalations import service as escalation_service
from gcc.escalations.service import ADVICE, TITLES
from gcc.organizations import fleet, history, service
from gcc.organizations.service import organization_view
from gcc.releases import progress
from servicekit.errors import InvalidInput

router = APIRouter(prefix=PREFIX, include_in_schema=False)


@router.get("/organizations/{name}")
async def organization_page(
    request: Request,
    user: ConsoleViewer,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    name: OrganizationNamePath,
) -> Response:
    """Everything an operator needs to answer a question about one organization."""
    organization = await service.get_organization(session, name=name)
    escalations = await escalation_service.list_escalations(
        session, organization_name=name, limit=100
    )
    now = clock.now()
    return render(
        request,
        "organization.html",
        {
            "organization": organization_view(organization),
            "license_state": fleet.license_state(organization.license_expires_at, now),
            "versions": (await history.version_history(session, name=name, limit=20)).versions,
            "deliveries": await progress.deliveries_of_organization(
                session, organization_id=organization.id
            ),
            "open_ones": [item for item in escalations.escalations if item.resolved_at is None],
            "resolved": [item for item in escalations.escalations if item.resolved_at],
            "titles": TITLES,
            "advice": ADVICE,
            "grace": settings.secret_rotation_grace,
            "back": f"/organizations/{name}",
        },
        user=user,
        current="fleet",
    )


@router.post("/organizations/{name}/rotate-secret")
async def rotate_secret(
    request: Request,
    user: ConsoleActor,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    name: OrganizationNamePath,
) -> Response:
    """Issue a new webhook secret and show it this once, with the previous one's grace."""
    rotated = await service.rotate_webhook_secret(
        session, clock=clock, settings=settings, actor=user.actor, name=name
    )
    return render(
        request,
        "secret_rotated.html",
        {"name": name, "rotated": rotated, "grace": settings.secret_rotation_grace},
        user=user,
        current="fleet",
    )


def _license_expiry(expires_on: str, perpetual: bool) -> datetime | None:
    """The expiry a license form asks for: the start (UTC) of the day given, or none."""
    if perpetual:
        return None
    try:
        return datetime.combine(date.fromisoformat(expires_on.strip()), datetime.min.time(), UTC)
    except ValueError as exc:
        raise InvalidInput(
            "Give the day the license ends, such as 2027-12-31, or choose no expiry.",
            field="expiresOn",
        ) from exc


@router.post("/organizations/{name}/license")
async def change_license(
    user: ConsoleActor,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    name: OrganizationNamePath,
    expires_on: Annotated[str, Form(max_length=40)] = "",
    perpetual: Annotated[bool, Form()] = False,
) -> Response:
    """Set the license's expiry as the signed-in operator (recorded with the old one)."""
    expires_at = _license_expiry(expires_on, perpetual)
    await service.update_organization(
        session,
        clock=clock,
        settings=settings,
        actor=user.actor,
        name=name,
        request=OrganizationUpdateRequest(license_expires_at=expires_at),
    )
    said = f"until {expires_at:%Y-%m-%d}" if expires_at else "without expiry"
    return see_other(f"/organizations/{name}", done=f"The license of {name} now runs {said}.")
