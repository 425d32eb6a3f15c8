"""Console pages: maintenance mode, the admins, and the email sent."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from consolekit.pagination import Page, PageRequest, page_request, page_url
from consolekit.web import ViewerRefused
from contracts.maintenance import MaintenanceModeUpdate
from customer_backend.admins import service as admins
from customer_backend.admins.models import AdminRole
from customer_backend.console import service
from customer_backend.console.web import (
    ConsoleActor,
    ConsoleViewer,
    attempt,
    render,
    see_other,
)
from customer_backend.deps import ClockDep, RuntimeDep, SessionDep, SettingsDep
from customer_backend.maintenance import service as maintenance
from customer_backend.notifications.service import recent_notifications

router = APIRouter(prefix="/console", include_in_schema=False)

MAX_REASON = 500


@router.get("/maintenance")
async def maintenance_page(request: Request, user: ConsoleViewer, session: SessionDep) -> Response:
    """Maintenance mode: asked for, applied by the agent, and the latest changes."""
    return render(
        request,
        "maintenance.html",
        {"mode": await maintenance.maintenance_mode(session)},
        user=user,
        current="maintenance",
    )


@router.post("/maintenance")
async def switch_maintenance(
    user: ConsoleActor,
    session: SessionDep,
    clock: ClockDep,
    runtime: RuntimeDep,
    enabled: Annotated[bool, Form()],
    reason: Annotated[str, Form(max_length=MAX_REASON)] = "",
) -> Response:
    """Switch it on or off; the agent applies it on its next poll."""
    await maintenance.switch_maintenance_mode(
        session,
        clock=clock,
        request=MaintenanceModeUpdate(enabled=enabled, reason=reason.strip() or None),
        admin_email=user.admin.email,
        send_task=runtime.send_task,
    )
    return see_other("/maintenance")


@router.get("/admins")
async def admins_page(request: Request, user: ConsoleActor, session: SessionDep) -> Response:
    """Every admin (the admin role only: a viewer is refused)."""
    return await _admins(request, user, session)


async def _admins(
    request: Request,
    user: ConsoleActor,
    session: SessionDep,
    *,
    errors: dict[str, str] | None = None,
    entered: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "admins.html",
        {
            "admins": await admins.list_admins(session),
            "roles": [str(role) for role in AdminRole],
            "errors": errors or {},
            "entered": entered or {},
        },
        user=user,
        current="admins",
        status_code=status_code,
    )


@router.post("/admins")
async def add_admin(
    request: Request,
    user: ConsoleActor,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    runtime: RuntimeDep,
    email: Annotated[str, Form(max_length=320)] = "",
    name: Annotated[str, Form(max_length=200)] = "",
    role: Annotated[str, Form(max_length=16)] = AdminRole.ADMIN,
) -> Response:
    """Add an admin, who is emailed a sign-in link."""
    if role == AdminRole.SUPPORT and user.admin.role != AdminRole.SUPPORT:
        raise ViewerRefused  # only the vendor's team names its own
    _added, error = await attempt(
        session,
        lambda: service.add_admin(
            session,
            clock=clock,
            settings=settings,
            email=email,
            name=name,
            role=role,
            send_task=runtime.send_task,
        ),
    )
    if error is None:
        return see_other("/admins")
    return await _admins(
        request,
        user,
        session,
        errors={error.field or "email": error.detail},
        entered={"email": email, "name": name, "role": role},
        status_code=error.status_code,
    )


@router.post("/admins/deactivate")
async def deactivate_admin(
    user: ConsoleActor,
    session: SessionDep,
    clock: ClockDep,
    email: Annotated[str, Form(max_length=320)],
) -> Response:
    """Deactivate an admin: no more email, token revoked, console sessions ended."""
    await service.deactivate_admin(session, clock=clock, email=email)
    return see_other("/admins")


@router.get("/emails")
async def emails_page(
    request: Request,
    user: ConsoleViewer,
    session: SessionDep,
    wanted: Annotated[PageRequest, Depends(page_request)],
) -> Response:
    """Every email queued: which, to whom, when (or why not yet)."""
    notifications, total = await recent_notifications(
        session, limit=wanted.size, offset=wanted.offset
    )
    return render(
        request,
        "emails.html",
        {
            "page": Page(items=notifications, request=wanted, total=total),
            "page_url": lambda number: page_url(request, number),
        },
        user=user,
        current="emails",
    )
