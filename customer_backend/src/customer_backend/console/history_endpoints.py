"""Console pages: deployment detail with live logs and cancel, the history, and rollback."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Header, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import ValidationError

from consolekit.pagination import Page, PageRequest, page_request, page_url
from consolekit.web import SignInRequired, is_htmx
from contracts import MAX_STORED_INTEGER, DeploymentType, RollbackRequest
from customer_backend.console import log_pane
from customer_backend.console import service as console_service
from customer_backend.console.web import (
    CONSOLE,
    ConsoleActor,
    ConsoleViewer,
    attempt,
    render,
    see_other,
)
from customer_backend.deployments import history, logstream, rollback
from customer_backend.deployments import service as deployments
from customer_backend.deps import ClockDep, RuntimeDep, SessionDep, SettingsDep
from customer_backend.installation import service as installation
from servicekit.db import session_scope
from servicekit.errors import InvalidInput

router = APIRouter(prefix="/console", include_in_schema=False)

CANCELLABLE = "scheduled"


@router.get("/deployments")
async def history_page(
    request: Request,
    user: ConsoleViewer,
    session: SessionDep,
    wanted: Annotated[PageRequest, Depends(page_request)],
) -> Response:
    """Every deployment and rollback that ran, newest first, a page at a time."""
    entries = await history.history(session, limit=wanted.size, offset=wanted.offset)
    page = Page(items=entries, request=wanted, total=await history.history_count(session))
    return render(
        request,
        "history.html",
        {
            "page": page,
            "durations": await history.durations(session, entries),
            "page_url": lambda number: page_url(request, number),
            "current_version": await installation.current_version(session),
        },
        user=user,
        current="deployments",
    )


async def _deployment_state(session: SessionDep, deployment_id: uuid.UUID) -> dict[str, object]:
    detail = await history.deployment_detail(session, deployment_id=deployment_id)
    return {
        "detail": detail,
        "target_id": deployment_id,
        "is_cancellable": detail.deployment is not None and detail.deployment.status == CANCELLABLE,
    }


@router.get("/deployments/{deployment_id}")
async def deployment_page(
    request: Request,
    deployment_id: uuid.UUID,
    user: ConsoleViewer,
    session: SessionDep,
) -> Response:
    """A deployment (or a rollback's task): timeline, live log, cancel while it can be."""
    state = await _deployment_state(session, deployment_id)
    # The lines stored so far are in the page (readable without JavaScript); the live pane
    # streams from after the last of them.
    logged = await history.log_page(session, target_id=deployment_id)
    return render(
        request,
        "deployment.html",
        {
            **state,
            "lines": [log_pane.line_item(line) for line in logged.lines],
            "stream_after": logged.next_after_id,
            "is_log_finished": logged.is_finished,
            "just_scheduled": request.query_params.get("scheduled") == "1",
        },
        user=user,
        current="deployments",
    )


@router.get("/deployments/{deployment_id}/state")
async def deployment_state(
    request: Request,
    deployment_id: uuid.UUID,
    user: ConsoleViewer,
    session: SessionDep,
) -> Response:
    """The page's summary and timeline alone, which it fetches again when the log ends."""
    state = await _deployment_state(session, deployment_id)
    return render(request, "_deployment_state.html", state, user=user)


@router.post("/deployments/{deployment_id}/cancel")
async def cancel(
    request: Request,
    deployment_id: uuid.UUID,
    user: ConsoleActor,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> Response:
    """Cancel a scheduled deployment (the service answers 409 once the agent has it): from
    htmx, the page's summary and timeline as they are now; from a plain form, the page."""
    await deployments.cancel_deployment(
        session,
        clock=clock,
        settings=settings,
        deployment_id=deployment_id,
        admin_email=user.admin.email,
    )
    if is_htmx(request):
        state = await _deployment_state(session, deployment_id)
        return render(request, "_deployment_state.html", state, user=user)
    return see_other(f"/deployments/{deployment_id}")


async def _stream_user(request: Request, runtime: RuntimeDep, settings: SettingsDep) -> None:
    # The stream may stay open for long: check the session in a short session of its own.
    token = CONSOLE.session_token_of(request, plain_http=settings.console_plain_http)
    async with session_scope(runtime.session_factory) as session:
        admin = await console_service.signed_in_admin(
            session, clock=runtime.clock, settings=settings, session_token=token
        )
    if admin is None:
        raise SignInRequired


@router.get("/deployments/{deployment_id}/logs/stream", dependencies=[Depends(_stream_user)])
async def stream_logs(
    deployment_id: uuid.UUID,
    runtime: RuntimeDep,
    last_event_id: Annotated[int, Query(alias="lastEventId", ge=0, le=MAX_STORED_INTEGER)] = 0,
    resume_after: Annotated[
        int | None, Header(alias="Last-Event-ID", ge=0, le=MAX_STORED_INTEGER)
    ] = None,
) -> StreamingResponse:
    """The API's stream of log lines as HTML fragments for the page's pane: from
    ``lastEventId`` (the last line drawn in the page), or from the ``Last-Event-ID`` the
    browser sends when it reconnects."""
    async with session_scope(runtime.session_factory) as session:
        target = await deployments.resolve_stream_target(session, target_id=deployment_id)
    return StreamingResponse(
        logstream.stream_logs(
            runtime.session_factory,
            target=target,
            after_id=max(last_event_id, resume_after or 0),
            format_line=log_pane.line_event,
            format_end=log_pane.end_event,
        ),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _rollback_request(version: str | None, revision: int | None) -> RollbackRequest:
    try:
        return RollbackRequest(target_version=version or None, target_revision=revision)
    except ValidationError as error:
        reason = error.errors()[0]["msg"].removeprefix("Value error, ")
        raise InvalidInput(f"That rollback target cannot be used: {reason}.") from None


@router.get("/rollback")
async def rollback_page(
    request: Request,
    user: ConsoleViewer,
    session: SessionDep,
    settings: SettingsDep,
    version: Annotated[str | None, Query(max_length=64)] = None,
    revision: Annotated[int | None, Query(ge=1, le=MAX_STORED_INTEGER)] = None,
) -> Response:
    """The confirmation: what runs now and what will run after the rollback."""
    target = _rollback_request(version, revision)
    return render(
        request,
        "rollback.html",
        {
            "target": target,
            "current_version": await installation.current_version(session),
            "is_helm": settings.deployment_type == DeploymentType.KUBERNETES,
        },
        user=user,
        current="deployments",
    )


@router.post("/rollback")
async def roll_back(
    request: Request,
    user: ConsoleActor,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    runtime: RuntimeDep,
    version: Annotated[str | None, Form(max_length=64)] = None,
    revision: Annotated[int | None, Form(ge=1, le=MAX_STORED_INTEGER)] = None,
) -> Response:
    """Queue the rollback; its task opens like a deployment."""
    target = _rollback_request(version, revision)
    task, error = await attempt(
        session,
        lambda: rollback.request_rollback(
            session,
            clock=clock,
            settings=settings,
            object_store=runtime.object_store,
            gcc=runtime.gcc,
            request=target,
            admin_email=user.admin.email,
        ),
    )
    if error is not None or task is None:
        return render(
            request,
            "rollback.html",
            {
                "target": target,
                "current_version": await installation.current_version(session),
                "is_helm": settings.deployment_type == DeploymentType.KUBERNETES,
                "error": error.detail if error else None,
            },
            user=user,
            current="deployments",
            status_code=error.status_code if error else 500,
        )
    return see_other(f"/deployments/{task.id}")
