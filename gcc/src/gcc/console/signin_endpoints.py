"""Console sign-in: consolekit's pages, with the operators as the people who may sign in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends
from sqlmodel.ext.asyncio.session import AsyncSession

from consolekit.signin import LinkState
from consolekit.signin_pages import SettingsSignIn, sign_in_router
from gcc.console.web import CONSOLE, ConsoleUser, console_user
from gcc.deps import ClockDep, SessionDep, SettingsDep
from gcc.operators import signin
from gcc.settings import Settings
from timekeeping import Clock


@dataclass(frozen=True)
class OperatorSignIn(SettingsSignIn):
    """The sign-in backend of the operator console: links go to active operators, by SMTP."""

    session: AsyncSession
    clock: Clock
    settings: Settings

    async def request_link(self, *, email: str, next_path: str) -> None:
        """Email a link if ``email`` is an active operator's; it opens ``next_path``."""
        await signin.request_sign_in_link(
            self.session,
            clock=self.clock,
            settings=self.settings,
            email=email,
            send=signin.send_in_background(self.settings),
            next_path=next_path,
        )

    async def check_link(self, *, token: str) -> LinkState:
        """Whether the link can still be used."""
        return await signin.check_link(self.session, clock=self.clock, token=token)

    async def sign_in(self, *, token: str) -> tuple[LinkState, str | None]:
        """Spend the link and open a session."""
        return await signin.sign_in(self.session, clock=self.clock, token=token)

    async def sign_out(self, *, session_token: str) -> None:
        """End the session."""
        await signin.sign_out(self.session, clock=self.clock, session_token=session_token)


async def operator_sign_in(
    session: SessionDep, clock: ClockDep, settings: SettingsDep
) -> OperatorSignIn:
    """The sign-in backend bound to this request."""
    return OperatorSignIn(session=session, clock=clock, settings=settings)


async def signed_in_session(user: Annotated[ConsoleUser, Depends(console_user)]) -> str:
    """The session token of the signed-in operator (the sign-out form's CSRF token checked)."""
    return user.session_token


router = sign_in_router(CONSOLE, backend=operator_sign_in, signed_in_session=signed_in_session)
