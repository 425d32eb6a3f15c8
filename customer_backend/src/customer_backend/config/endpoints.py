"""Control Tower configuration API: non-essential variables and the essential configuration."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Response, status

from contracts import (
    APPLICATION_CONFIG_PATH,
    ApplicationConfig,
    EnvKey,
    EssentialConfigRevisionList,
    EssentialConfigUpdate,
    EssentialConfigView,
    NonEssentialEnvCreate,
    NonEssentialEnvList,
    NonEssentialEnvUpdate,
    NonEssentialEnvView,
)
from customer_backend.config import application, service, views
from customer_backend.deps import (
    ApplicationCaller,
    ClockDep,
    CurrentAdmin,
    RuntimeDep,
    SessionDep,
    SettingsDep,
)
from servicekit.openapi import error_responses, links_to

router = APIRouter(tags=["config"])

ENV_PATH = "/api/admin/config/{key}"

EnvKeyPath = Annotated[EnvKey, Path(description="The variable's name")]
"""A variable's name in the path; one that no variable could have is a 422."""


@router.get(
    "/api/admin/config/essential",
    response_model=EssentialConfigView,
    summary="The current essential configuration's revision and keys, never its values",
)
async def get_essential_config(
    _admin: CurrentAdmin, session: SessionDep, settings: SettingsDep, runtime: RuntimeDep
) -> EssentialConfigView:
    """The current revision, who saved it and when, and the keys it sets; revision null before
    the first one."""
    summary = await service.essential_config_summary(
        session, object_store=runtime.object_store, deployment_type=settings.deployment_type
    )
    return views.essential_view(summary)


@router.put(
    "/api/admin/config/essential",
    response_model=EssentialConfigView,
    responses=error_responses(403),
    summary="Save a new revision of the essential configuration (support role only)",
)
async def put_essential_config(
    body: EssentialConfigUpdate,
    admin: CurrentAdmin,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    runtime: RuntimeDep,
) -> EssentialConfigView:
    """Check the file (YAML mapping for Helm, KEY=VALUE lines for Compose), store it as the next
    revision and make it the one the next deployment uses; 403 unless the token is a support
    admin's. The answer names the keys, never the values."""
    summary = await service.save_essential_config(
        session,
        clock=clock,
        object_store=runtime.object_store,
        deployment_type=settings.deployment_type,
        content=body.content,
        admin_email=admin.email,
        role=admin.role,
    )
    return views.essential_view(summary)


@router.get(
    "/api/admin/config/essential/revisions",
    response_model=EssentialConfigRevisionList,
    summary="Every revision of the essential configuration",
)
async def list_essential_revisions(
    _admin: CurrentAdmin, session: SessionDep, settings: SettingsDep
) -> EssentialConfigRevisionList:
    """Revisions of this installation's kind, newest first."""
    versions = await service.list_essential_configs(
        session, deployment_type=settings.deployment_type
    )
    return EssentialConfigRevisionList(revisions=[views.revision_view(v) for v in versions])


@router.get(
    "/api/admin/config",
    response_model=NonEssentialEnvList,
    summary="Every non-essential variable",
)
async def list_envs(_admin: CurrentAdmin, session: SessionDep) -> NonEssentialEnvList:
    """Non-essential variables, by key."""
    envs = await service.list_envs(session)
    return NonEssentialEnvList(envs=[views.env_view(env) for env in envs])


@router.post(
    "/api/admin/config",
    response_model=NonEssentialEnvView,
    status_code=status.HTTP_201_CREATED,
    responses={
        **error_responses(409),
        201: {
            "description": "The variable added.",
            "links": links_to(
                [("PATCH", ENV_PATH), ("DELETE", ENV_PATH)], key="$response.body#/key"
            ),
        },
    },
    summary="Add a non-essential variable",
)
async def create_env(
    body: NonEssentialEnvCreate, admin: CurrentAdmin, session: SessionDep, clock: ClockDep
) -> NonEssentialEnvView:
    """Add a variable; 409 when the key exists."""
    env = await service.create_env(session, clock=clock, request=body, admin_email=admin.email)
    return views.env_view(env)


@router.patch(
    ENV_PATH,
    response_model=NonEssentialEnvView,
    responses=error_responses(404),
    summary="Change a non-essential variable",
)
async def update_env(
    key: EnvKeyPath,
    body: NonEssentialEnvUpdate,
    admin: CurrentAdmin,
    session: SessionDep,
    clock: ClockDep,
) -> NonEssentialEnvView:
    """Change the value, description or category; fields left out stay as they are."""
    env = await service.update_env(
        session, clock=clock, key=key, update=body, admin_email=admin.email
    )
    return views.env_view(env)


@router.delete(
    ENV_PATH,
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=error_responses(404),
    summary="Remove a non-essential variable",
)
async def delete_env(
    key: EnvKeyPath, admin: CurrentAdmin, session: SessionDep, clock: ClockDep
) -> Response:
    """Remove the variable."""
    await service.delete_env(session, clock=clock, key=key, admin_email=admin.email)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    APPLICATION_CONFIG_PATH,
    response_model=ApplicationConfig,
    responses={
        304: {"description": "Nothing changed since the entity tag sent in If-None-Match"},
    },
    summary="The non-essential settings the WrkTalk application reads at run time",
)
async def get_application_config(
    _application: ApplicationCaller,
    session: SessionDep,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """Every non-essential variable with an `ETag`; `If-None-Match` with that tag answers 304
    with no body while nothing has changed."""
    config, tag = await application.application_config(session)
    headers = {"ETag": tag, "Cache-Control": "no-cache"}
    if application.entity_tag_matches(if_none_match, tag):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    return Response(config.model_dump_json(), media_type="application/json", headers=headers)
