"""Typed FastAPI dependencies: routes read as plain signatures."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from customer_backend.admins.models import ACTING_ROLES, Admin
from customer_backend.runtime import Runtime
from customer_backend.settings import Settings
from servicekit.auth import bearer_token, hash_token, tokens_match
from servicekit.deps import request_clock, request_runtime, request_session, request_settings
from servicekit.errors import Forbidden, Unauthorized
from timekeeping import Clock

RuntimeDep = Annotated[Runtime, Depends(request_runtime)]
SettingsDep = Annotated[Settings, Depends(request_settings)]
ClockDep = Annotated[Clock, Depends(request_clock)]
SessionDep = Annotated[AsyncSession, Depends(request_session, scope="function")]


READ_METHODS = frozenset({"GET", "HEAD"})


async def require_admin(
    request: Request,
    session: SessionDep,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Admin:
    """The active admin whose Control Tower token is presented; a viewer only reads."""
    admin = await admin_of_token(session, authorization)
    if request.method not in READ_METHODS and admin.role not in ACTING_ROLES:
        raise Forbidden(f"{admin.email} is a {admin.role}: a viewer can read, not change.")
    return admin


async def admin_of_token(session: AsyncSession, authorization: str | None) -> Admin:
    """The active admin whose Control Tower token is in ``authorization``."""
    token = bearer_token(authorization)
    if token is None:
        raise Unauthorized("An 'Authorization: Bearer <admin token>' header is required.")
    result = await session.exec(
        select(Admin).where(Admin.token_hash == hash_token(token), col(Admin.is_active))
    )
    admin = result.first()
    if admin is None:
        raise Unauthorized("The admin token is not valid.")
    return admin


async def require_agent(
    settings: SettingsDep,
    x_agent_secret: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> None:
    """Admit the agent: the X-Agent-Secret header, compared in constant time."""
    if not x_agent_secret:
        raise Unauthorized("An 'X-Agent-Secret' header is required.")
    if not tokens_match(x_agent_secret, settings.agent_secret.get_secret_value()):
        raise Unauthorized("The agent secret is not valid.")


async def require_application(
    settings: SettingsDep,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> None:
    """Admit the WrkTalk application: its app config token, compared in constant time."""
    expected = settings.app_config_token.get_secret_value()
    if not expected:
        raise Unauthorized(
            "Reading the application configuration is switched off: set "
            "WRKTALK_APP_CONFIG_TOKEN on the backend."
        )
    token = bearer_token(authorization)
    if token is None:
        raise Unauthorized("An 'Authorization: Bearer <app config token>' header is required.")
    if not tokens_match(token, expected):
        raise Unauthorized("The app config token is not valid.")


CurrentAdmin = Annotated[Admin, Depends(require_admin)]
AgentCaller = Annotated[None, Depends(require_agent)]
ApplicationCaller = Annotated[None, Depends(require_application)]
