"""The console's cookies: HttpOnly, SameSite=Lax, Secure unless the tier serves plain HTTP."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from fastapi import Request, Response

from consolekit.sessions import SESSION_IDLE_LIMIT


@dataclass(frozen=True)
class CookiePolicy:
    """How one console cookie is set.

    ``secure`` is True in production; a tier turns it off only through a setting that says the
    console is served over plain HTTP for development, since a browser never sends a Secure
    cookie to an ``http://`` address other than localhost.
    """

    name: str
    path: str = "/"
    secure: bool = True
    max_age: timedelta | None = SESSION_IDLE_LIMIT

    def read(self, request: Request) -> str | None:
        """The cookie's value on ``request``, or None."""
        value = request.cookies.get(self.name)
        return value or None

    def write(self, response: Response, value: str) -> None:
        """Set the cookie on ``response``; the browser keeps it for ``max_age`` past its last
        renewal (the server's own idle limit is what counts)."""
        response.set_cookie(
            self.name,
            value,
            max_age=None if self.max_age is None else int(self.max_age.total_seconds()),
            path=self.path,
            secure=self.secure,
            httponly=True,
            samesite="lax",
        )

    def clear(self, response: Response) -> None:
        """Remove the cookie from the browser."""
        response.delete_cookie(
            self.name, path=self.path, secure=self.secure, httponly=True, samesite="lax"
        )
