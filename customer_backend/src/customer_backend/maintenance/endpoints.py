"""Control Tower maintenance API: read and switch maintenance mode outside a deployment."""

from __future__ import annotations

from fastapi import APIRouter

from contracts import MaintenanceModeUpdate, MaintenanceModeView
from customer_backend.deps import ClockDep, CurrentAdmin, RuntimeDep, SessionDep
from customer_backend.maintenance import service
from servicekit.openapi import error_responses

router = APIRouter(tags=["maintenance"])

MAINTENANCE_PATH = "/api/admin/maintenance"


@router.get(
    MAINTENANCE_PATH,
    response_model=MaintenanceModeView,
    responses=error_responses(),
    summary="Maintenance mode: the state asked for, whether the agent applied it, the changes",
)
async def get_maintenance_mode(_admin: CurrentAdmin, session: SessionDep) -> MaintenanceModeView:
    """Off, and applied, until an admin first switches it."""
    return await service.maintenance_mode(session)


@router.put(
    MAINTENANCE_PATH,
    response_model=MaintenanceModeView,
    responses=error_responses(),
    summary="Switch maintenance mode on or off; the agent applies it on its next poll",
)
async def switch_maintenance_mode(
    body: MaintenanceModeUpdate,
    admin: CurrentAdmin,
    session: SessionDep,
    clock: ClockDep,
    runtime: RuntimeDep,
) -> MaintenanceModeView:
    """Recorded with the admin's email and emailed to the admins; asking for the state already
    asked for changes nothing."""
    return await service.switch_maintenance_mode(
        session,
        clock=clock,
        request=body,
        admin_email=admin.email,
        send_task=runtime.send_task,
    )
