"""Console pages: the Overview, and the Releases with their schedule forms and the upload
form of an offline release bundle."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import Response

from consolekit.timezones import LocalTimeInvalid, local_time_to_utc
from customer_backend.admins.models import AdminRole
from customer_backend.console import overview
from customer_backend.console.web import (
    ConsoleActor,
    ConsoleUser,
    ConsoleViewer,
    attempt,
    render,
    see_other,
)
from customer_backend.deployments import service as deployments
from customer_backend.deps import ClockDep, RuntimeDep, SessionDep, SettingsDep
from customer_backend.intake.bundles import import_bundle
from servicekit.errors import Conflict, Forbidden, ServiceError
from timekeeping import Clock

router = APIRouter(prefix="/console", include_in_schema=False)

MAX_ZONE_LENGTH = 64


@router.get("")
async def overview_page(
    request: Request,
    user: ConsoleViewer,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> Response:
    """The installation at a glance."""
    summary = await overview.overview(session, clock=clock, settings=settings)
    return render(request, "overview.html", {"o": summary}, user=user, current="overview")


@router.get("/releases")
async def releases_page(
    request: Request,
    user: ConsoleViewer,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> Response:
    """Releases to deploy, each with its schedule form; the bundle upload form for admins."""
    imported = request.query_params.get("imported", "")[:64]
    return await _releases(
        request,
        user=user,
        session=session,
        clock=clock,
        settings=settings,
        imported=imported or None,
    )


@router.post("/releases/import")
async def import_release_bundle(
    request: Request,
    user: ConsoleActor,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    runtime: RuntimeDep,
    bundle: Annotated[UploadFile, File()],
) -> Response:
    """Take in an offline release bundle (admins only). The upload waits on disk, spooled by
    the form parser, and is verified while its artifact streams into the bucket; a refusal is
    a sentence next to the form, and nothing is stored."""
    if user.admin.role != AdminRole.ADMIN:
        raise Forbidden("Only an admin imports a release bundle.", field="role")
    try:
        imported = await import_bundle(runtime=runtime, source=bundle.file)
    except ServiceError as refusal:
        return await _releases(
            request,
            user=user,
            session=session,
            clock=clock,
            settings=settings,
            import_error=refusal.detail,
            status_code=refusal.status_code,
        )
    finally:
        await bundle.close()
    return see_other(f"/releases?imported={imported.version}")


async def _releases(
    request: Request,
    *,
    user: ConsoleUser,
    session: SessionDep,
    clock: Clock,
    settings: SettingsDep,
    errors: dict[uuid.UUID, str] | None = None,
    entered: dict[uuid.UUID, str] | None = None,
    status_code: int = 200,
    import_error: str | None = None,
    imported: str | None = None,
) -> Response:
    rows = await overview.release_rows(session, settings=settings)
    return render(
        request,
        "releases.html",
        {
            "rows": rows,
            "errors": errors or {},
            "entered": entered or {},
            "now": clock.now(),
            "import_error": import_error,
            "imported": imported,
            "may_import": user.admin.role == AdminRole.ADMIN,
        },
        user=user,
        current="releases",
        status_code=status_code,
    )


@router.post("/releases/{deployment_id}/schedule")
async def schedule(
    request: Request,
    deployment_id: uuid.UUID,
    user: ConsoleActor,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    runtime: RuntimeDep,
    scheduled_for: Annotated[str, Form(max_length=40)] = "",
    time_zone: Annotated[str, Form(max_length=MAX_ZONE_LENGTH)] = "",
) -> Response:
    """Schedule a release at a time typed in the browser's zone; a refusal is a sentence next
    to the field."""
    try:
        moment = local_time_to_utc(scheduled_for, time_zone)
    except LocalTimeInvalid as unreadable:
        return await _refused(
            request,
            user,
            session,
            clock,
            settings,
            deployment_id,
            scheduled_for,
            str(unreadable),
            422,
        )
    task, refusal = await attempt(
        session,
        lambda: deployments.schedule_deployment(
            session,
            clock=clock,
            settings=settings,
            object_store=runtime.object_store,
            deployment_id=deployment_id,
            scheduled_for=moment,
            admin_email=user.admin.email,
        ),
    )
    if refusal is not None:
        sentence = _schedule_sentence(refusal, moment=moment, now=clock.now())
        return await _refused(
            request,
            user,
            session,
            clock,
            settings,
            deployment_id,
            scheduled_for,
            sentence,
            refusal.status_code,
        )
    assert task is not None
    return see_other(f"/deployments/{deployment_id}?scheduled=1")


async def _refused(
    request: Request,
    user: ConsoleUser,
    session: SessionDep,
    clock: Clock,
    settings: SettingsDep,
    deployment_id: uuid.UUID,
    entered: str,
    sentence: str,
    status_code: int,
) -> Response:
    return await _releases(
        request,
        user=user,
        session=session,
        clock=clock,
        settings=settings,
        errors={deployment_id: sentence},
        entered={deployment_id: entered},
        status_code=status_code,
    )


def _schedule_sentence(error: ServiceError, *, moment: datetime, now: datetime) -> str:
    """The service's refusal as a sentence for the person at the form."""
    if isinstance(error, Conflict):
        return (
            f"Another deployment is already scheduled or running ({error.detail.rstrip('.')}). "
            "Cancel it, or wait until it ends, before scheduling this one."
        )
    if error.field == "scheduledFor" and moment < now:
        return (
            f"That time has passed ({moment:%Y-%m-%d %H:%M} UTC is before now, "
            f"{now:%Y-%m-%d %H:%M} UTC). Choose a later time."
        )
    return error.detail
