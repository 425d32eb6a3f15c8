"""Console sign-in: ask for a link, follow it, sign out."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response

from consolekit.csrf import check_csrf, csrf_token
from consolekit.signin import LinkState
from customer_backend.console import service
from customer_backend.console.web import (
    ConsoleViewer,
    form_cookie,
    message_page,
    render,
    see_other,
    session_cookie,
    url,
)
from customer_backend.deps import ClockDep, RuntimeDep, SessionDep, SettingsDep

router = APIRouter(prefix="/console", include_in_schema=False)

MAX_EMAIL_LENGTH = 320
MAX_TOKEN_LENGTH = 200

REFUSED_LINKS = {
    LinkState.EXPIRED: (
        410,
        "This sign-in link has expired",
        "Sign-in links work for a short time only. Ask for a new one.",
    ),
    LinkState.USED: (
        410,
        "This sign-in link has already been used",
        "Each link signs in once. Ask for a new one.",
    ),
    LinkState.UNKNOWN: (
        404,
        "This sign-in link is not valid",
        "It may have been copied incompletely. Ask for a new one.",
    ),
}


def _form_secret(request: Request, settings: SettingsDep) -> tuple[str, bool]:
    """The pre-session secret of this browser, and whether it is new (to be set)."""
    existing = form_cookie(settings).read(request)
    return (existing, False) if existing else (secrets.token_urlsafe(32), True)


def _with_form_secret(
    response: Response, settings: SettingsDep, secret: str, *, is_new: bool
) -> Response:
    if is_new:
        form_cookie(settings).write(response, secret)
    return response


def _safe_next(next_path: str | None) -> str:
    """Only a path inside the console, so the link cannot send anyone elsewhere."""
    if next_path and next_path.startswith(url("/")) and not next_path.startswith("//"):
        return next_path
    return url()


@router.get("/sign-in")
async def sign_in_page(
    request: Request,
    settings: SettingsDep,
    next_path: Annotated[str | None, Query(alias="next", max_length=500)] = None,
    signed_out: Annotated[bool, Query()] = False,
) -> Response:
    """The address form."""
    secret, is_new = _form_secret(request, settings)
    page = render(
        request,
        "sign_in.html",
        {
            "csrf": csrf_token(secret),
            "next_path": _safe_next(next_path),
            "signed_out": signed_out,
        },
        user=None,
    )
    return _with_form_secret(page, settings, secret, is_new=is_new)


@router.post("/sign-in")
async def ask_for_link(
    request: Request,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    runtime: RuntimeDep,
    email: Annotated[str, Form(max_length=MAX_EMAIL_LENGTH)],
) -> Response:
    """Email a link if the address is an active admin's; the answer is the same either way."""
    await check_csrf(request, form_cookie(settings).read(request))
    await service.request_sign_in_link(
        session, clock=clock, settings=settings, email=email, send_task=runtime.send_task
    )
    return render(
        request,
        "sign_in_sent.html",
        {"email": email.strip(), "minutes": round(settings.console_link_minutes)},
        user=None,
    )


@router.get("/sign-in/link")
async def link_page(
    request: Request,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    token: Annotated[str, Query(max_length=MAX_TOKEN_LENGTH)] = "",
    next_path: Annotated[str | None, Query(alias="next", max_length=500)] = None,
) -> Response:
    """What an emailed link opens: a button that signs in, so a mail scanner fetching the link
    does not use it up; or a page saying why the link cannot be used."""
    state = await service.check_link(session, clock=clock, token=token)
    if state is not LinkState.VALID:
        return _refused(request, state)
    secret, is_new = _form_secret(request, settings)
    page = render(
        request,
        "sign_in_link.html",
        {"csrf": csrf_token(secret), "token": token, "next_path": _safe_next(next_path)},
        user=None,
    )
    return _with_form_secret(page, settings, secret, is_new=is_new)


@router.post("/sign-in/link")
async def use_link(
    request: Request,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    token: Annotated[str, Form(max_length=MAX_TOKEN_LENGTH)],
    next_path: Annotated[str | None, Form(alias="next", max_length=500)] = None,
) -> Response:
    """Spend the link and start a session."""
    await check_csrf(request, form_cookie(settings).read(request))
    state, _admin, session_token = await service.sign_in(session, clock=clock, token=token)
    if state is not LinkState.VALID or session_token is None:
        return _refused(request, state)
    response = see_other(_safe_next(next_path).removeprefix(url()))
    session_cookie(settings).write(response, session_token)
    form_cookie(settings).clear(response)
    return response


@router.post("/sign-out")
async def sign_out(
    user: ConsoleViewer, session: SessionDep, clock: ClockDep, settings: SettingsDep
) -> Response:
    """End this session."""
    await service.sign_out(session, clock=clock, session_token=user.session_token)
    response = see_other("/sign-in?signed_out=true")
    session_cookie(settings).clear(response)
    return response


def _refused(request: Request, state: LinkState) -> Response:
    status_code, heading, advice = REFUSED_LINKS.get(state, REFUSED_LINKS[LinkState.UNKNOWN])
    return message_page(
        request,
        heading=heading,
        sentences=[advice],
        status_code=status_code,
        next_url=url("/sign-in"),
        next_label="Ask for a new sign-in link",
    )
