"""CSRF tokens: every state-changing form carries one, and a request without it changes nothing.

The token is an HMAC of a secret the browser holds only in an HttpOnly cookie: the session
token once signed in, or a random pre-session value for the sign-in forms. Another site can
make the browser send the cookie but cannot read it, so it cannot write the token into a form;
another session's token does not match this session's secret. Nothing is stored: the token is
derived again on each request.
"""

from __future__ import annotations

import hashlib
import hmac

from fastapi import Request

from consolekit.secrets import same_secret

CSRF_FIELD = "csrf_token"
"""The form field every console form carries the token in."""

CSRF_HEADER = "x-csrf-token"
"""The header scripts (and htmx) send the token in instead."""

_PURPOSE = b"consolekit csrf v1"

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
"""Methods that never change state and so need no token."""


class CsrfRefused(Exception):
    """A state-changing request without this session's CSRF token; the tier answers 403."""


def csrf_token(secret: str) -> str:
    """The CSRF token for ``secret`` (a session token or a pre-session value)."""
    return hmac.new(secret.encode(), _PURPOSE, hashlib.sha256).hexdigest()


def csrf_token_matches(secret: str | None, presented: str | None) -> bool:
    """Whether ``presented`` is the token of ``secret``; False when either is missing."""
    if not secret or not presented:
        return False
    return same_secret(presented, csrf_token(secret))


async def presented_csrf_token(request: Request) -> str | None:
    """The token a request presents: the header, or else the form field of a form body."""
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        return None
    form = await request.form()
    value = form.get(CSRF_FIELD)
    return value if isinstance(value, str) else None


async def check_csrf(request: Request, secret: str | None) -> None:
    """Raise :class:`CsrfRefused` unless a state-changing ``request`` carries the token of
    ``secret``; safe methods pass."""
    if request.method in SAFE_METHODS:
        return
    if not csrf_token_matches(secret, await presented_csrf_token(request)):
        raise CsrfRefused("the form's CSRF token is missing or belongs to another session")
