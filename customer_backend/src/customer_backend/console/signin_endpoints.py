"""Console sign-in: consolekit's pages, with the admins as the people who may sign in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends
from sqlmodel.ext.asyncio.session import AsyncSession

from consolekit.signin import LinkState
from consolekit.signin_pages import SettingsSignIn, sign_in_router
from customer_backend.console import service
from customer_backend.console.web import CONSOLE, ConsoleUser, console_user
from customer_backend.deps import ClockDep, RuntimeDep, SessionDep, SettingsDep
from customer_backend.settings import Settings
from servicekit.runtime import SendTask
from timekeeping import Clock


@dataclass(frozen=True)
class AdminSignIn(SettingsSignIn):
    """The sign-in backend of the Control Tower: links go to active admins, by the outbox."""

    session: AsyncSession
    clock: Clock
    settings: Settings
    send_task: SendTask | None

    async def request_link(self, *, email: str, next_path: str) -> None:
        """Email a link if ``email`` is an active admin's (the link opens the overview)."""
        await service.request_sign_in_link(
            self.session,
            clock=self.clock,
            settings=self.settings,
            email=email,
            send_task=self.send_task,
        )

    async def check_link(self, *, token: str) -> LinkState:
        """Whether the link can still be used."""
        return await service.check_link(self.session, clock=self.clock, token=token)

    async def sign_in(self, *, token: str) -> tuple[LinkState, str | None]:
        """Spend the link and open a session."""
        state, _admin, session_token = await service.sign_in(
            self.session, clock=self.clock, token=token
        )
        return state, session_token

    async def sign_out(self, *, session_token: str) -> None:
        """End the session."""
        await service.sign_out(self.session, clock=self.clock, session_token=session_token)


async def admin_sign_in(
    session: SessionDep, clock: ClockDep, settings: SettingsDep, runtime: RuntimeDep
) -> AdminSignIn:
    """The sign-in backend bound to this request."""
    return AdminSignIn(session=session, clock=clock, settings=settings, send_task=runtime.send_task)


async def signed_in_session(user: Annotated[ConsoleUser, Depends(console_user)]) -> str:
    """The session token of the signed-in admin (the sign-out form's CSRF token checked)."""
    return user.session_token


router = sign_in_router(CONSOLE, backend=admin_sign_in, signed_in_session=signed_in_session)
