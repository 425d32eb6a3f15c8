"""Console pages: the non-essential variables with their revisions and differences, and the
essential configuration read-only."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError

from consolekit.pagination import Page, PageRequest, page_request, page_url
from contracts import (
    MAX_STORED_INTEGER,
    NonEssentialEnvCategory,
    NonEssentialEnvCreate,
    NonEssentialEnvUpdate,
)
from customer_backend.config import history, service
from customer_backend.console.web import (
    ConsoleActor,
    ConsoleUser,
    ConsoleViewer,
    attempt,
    render,
    see_other,
)
from customer_backend.deps import ClockDep, RuntimeDep, SessionDep, SettingsDep

router = APIRouter(prefix="/console", include_in_schema=False)

MAX_FORM_TEXT = 20_000


async def _page(
    request: Request,
    *,
    user: ConsoleUser,
    session: SessionDep,
    settings: SettingsDep,
    runtime: RuntimeDep,
    wanted: PageRequest,
    errors: dict[str, str] | None = None,
    entered: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    changes, total = await history.changes(session, limit=wanted.size, offset=wanted.offset)
    essential = await service.essential_config_summary(
        session, object_store=runtime.object_store, deployment_type=settings.deployment_type
    )
    return render(
        request,
        "configuration.html",
        {
            "envs": await service.list_envs(session),
            "changes": Page(items=changes, request=wanted, total=total),
            "page_url": lambda number: page_url(request, number),
            "latest_revision": await history.latest_revision(session),
            "essential": essential,
            "essential_revisions": await service.list_essential_configs(
                session, deployment_type=settings.deployment_type
            ),
            "errors": errors or {},
            "entered": entered or {},
            "categories": [str(category) for category in NonEssentialEnvCategory],
        },
        user=user,
        current="configuration",
        status_code=status_code,
    )


@router.get("/configuration")
async def configuration_page(
    request: Request,
    user: ConsoleViewer,
    session: SessionDep,
    settings: SettingsDep,
    runtime: RuntimeDep,
    wanted: Annotated[PageRequest, Depends(page_request)],
) -> Response:
    """Variables, their revisions, and the essential configuration's keys and authors."""
    return await _page(
        request, user=user, session=session, settings=settings, runtime=runtime, wanted=wanted
    )


def _field_errors(error: ValidationError, *, prefix: str = "") -> dict[str, str]:
    """Pydantic's complaints as sentences by form field."""
    found: dict[str, str] = {}
    for problem in error.errors():
        location = problem.get("loc") or ("value",)
        name = str(location[0])
        message = str(problem.get("msg", "is not valid")).removeprefix("Value error, ")
        found.setdefault(prefix + name, message[0].upper() + message[1:].rstrip(".") + ".")
    return found


def _checked(model: type[BaseModel], fields: dict[str, Any], *, prefix: str = "") -> Any:
    """The contract model the API takes, or the field errors it gives."""
    try:
        return model.model_validate(fields)
    except ValidationError as error:
        return _field_errors(error, prefix=prefix)


@router.post("/configuration")
async def add_variable(
    request: Request,
    user: ConsoleActor,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    runtime: RuntimeDep,
    key: Annotated[str, Form(max_length=MAX_FORM_TEXT)] = "",
    value: Annotated[str, Form(max_length=MAX_FORM_TEXT)] = "",
    description: Annotated[str, Form(max_length=MAX_FORM_TEXT)] = "",
    category: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Add a variable, validated by the API's own contract model."""
    fields = {
        "key": key.strip(),
        "value": value,
        "description": description or None,
        "category": category or None,
    }
    checked = _checked(NonEssentialEnvCreate, fields, prefix="new-")
    error = None
    if isinstance(checked, NonEssentialEnvCreate):
        _created, error = await attempt(
            session,
            lambda: service.create_env(
                session, clock=clock, request=checked, admin_email=user.admin.email
            ),
        )
        if error is None:
            return see_other("/configuration")
        checked = {"new-" + (error.field or "key"): error.detail}
    return await _page(
        request,
        user=user,
        session=session,
        settings=settings,
        runtime=runtime,
        wanted=PageRequest(),
        errors=checked,
        entered={"new": fields},
        status_code=error.status_code if error is not None else 422,
    )


@router.post("/configuration/{key}")
async def change_variable(
    request: Request,
    key: str,
    user: ConsoleActor,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    runtime: RuntimeDep,
    value: Annotated[str, Form(max_length=MAX_FORM_TEXT)] = "",
) -> Response:
    """Change a variable's value (a new revision when it differs)."""
    checked = _checked(NonEssentialEnvUpdate, {"value": value}, prefix=f"{key}-")
    if isinstance(checked, NonEssentialEnvUpdate):
        _changed, error = await attempt(
            session,
            lambda: service.update_env(
                session, clock=clock, key=key, update=checked, admin_email=user.admin.email
            ),
        )
        if error is None:
            return see_other("/configuration")
        checked = {f"{key}-value": error.detail}
    return await _page(
        request,
        user=user,
        session=session,
        settings=settings,
        runtime=runtime,
        wanted=PageRequest(),
        errors=checked,
        entered={key: value},
        status_code=422,
    )


@router.post("/configuration/{key}/delete")
async def remove_variable(
    key: str, user: ConsoleActor, session: SessionDep, clock: ClockDep
) -> Response:
    """Remove a variable (its removal is a revision too)."""
    await service.delete_env(session, clock=clock, key=key, admin_email=user.admin.email)
    return see_other("/configuration")


@router.get("/configuration/diff")
async def difference_page(
    request: Request,
    user: ConsoleViewer,
    session: SessionDep,
    before: Annotated[int, Query(ge=0, le=MAX_STORED_INTEGER)],
    after: Annotated[int, Query(ge=0, le=MAX_STORED_INTEGER)],
) -> Response:
    """What differs between two revisions of the variables."""
    return render(
        request,
        "configuration_diff.html",
        {
            "before": before,
            "after": after,
            "differences": await history.difference(session, before=before, after=after),
        },
        user=user,
        current="configuration",
    )
