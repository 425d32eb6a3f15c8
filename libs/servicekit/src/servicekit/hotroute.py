"""One busy route answered ahead of FastAPI's routing and dependency injection.

A GCC heartbeat or an agent poll does a few hundred microseconds of work of its own, and
FastAPI's route matching, dependency solving, parameter validation and response rendering cost
more than that again. On a two-core machine that share decides how many such requests a second
the service answers. :class:`HotRoute` is ASGI middleware that answers one method and path
itself, through a handler that parses what it needs and calls the same service function as the
FastAPI endpoint.

The route stays declared in FastAPI, which documents it in the OpenAPI document and answers
every request the handler declines: the handler returns None for anything unusual (missing
credentials, a body or a path parameter that does not validate, another content type), and
the request goes on to the app with the body that was read replayed, so that each error
answer is the app's own. An exception the handler raises is answered by the app's exception
handler for it (a :class:`~servicekit.errors.ServiceError`, a lost database connection);
one the app has no specific handler for propagates to its server error handler (a JSON 500,
logged).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["HotHandler", "HotRequest", "HotResponse", "HotRoute", "path_pattern"]

JSON_CONTENT_TYPE = b"application/json"


@dataclass(frozen=True)
class HotRequest:
    """What the handler sees of a request: its path parameters, headers and whole body."""

    scope: Scope
    path_params: dict[str, str]
    body: bytes

    @property
    def app(self) -> Any:
        """The application the request reached (its ``state`` holds the runtime)."""
        return self.scope["app"]

    def header(self, name: bytes) -> str | None:
        """The first value of the header ``name`` (lower case), decoded as Latin-1."""
        for key, value in self.scope["headers"]:
            if key == name:
                return str(value.decode("latin-1"))
        return None

    def is_json(self) -> bool:
        """Whether the body is declared as JSON (``application/json``, any parameters)."""
        content_type = self.header(b"content-type")
        return content_type is not None and (
            content_type.encode("latin-1").split(b";", 1)[0].strip().lower() == JSON_CONTENT_TYPE
        )


@dataclass(frozen=True)
class HotResponse:
    """A complete answer: status, body and extra headers (the content type is JSON)."""

    body: bytes
    status_code: int = 200
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)


HotHandler = Callable[[HotRequest], Awaitable[HotResponse | None]]
"""Answers a request of the route, or returns None to hand it to the app."""


def path_pattern(template: str) -> re.Pattern[str]:
    """The regular expression of a route template such as ``/organizations/{name}/heartbeat``;
    each ``{parameter}`` matches one path segment."""
    parts = re.split(r"\{(\w+)\}", template)
    pattern = "".join(
        re.escape(part) if index % 2 == 0 else f"(?P<{part}>[^/]+)"
        for index, part in enumerate(parts)
    )
    return re.compile(pattern)


class HotRoute:
    """ASGI middleware answering ``method`` ``path`` with ``handler`` (see the module)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        method: str,
        path: str,
        handler: HotHandler,
        max_body_bytes: int = 64 * 1024,
    ) -> None:
        """Answer requests of ``method`` whose path matches the template ``path``; a body
        longer than ``max_body_bytes`` goes to the app, which decides about it."""
        self.app = app
        self._method = method
        self._pattern = path_pattern(path)
        self._handler = handler
        self._max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer a request of the route, or pass it on."""
        if scope["type"] != "http" or scope["method"] != self._method:
            await self.app(scope, receive, send)
            return
        match = self._pattern.fullmatch(scope["path"])
        if match is None:
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        more_body = True
        while more_body:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away before sending its body: nobody to answer
            chunk = message.get("body", b"")
            chunks.append(chunk)
            size += len(chunk)
            more_body = message.get("more_body", False)
            if size > self._max_body_bytes:
                break
        body = b"".join(chunks)
        response: HotResponse | None = None
        if not more_body:
            try:
                response = await self._handler(HotRequest(scope, match.groupdict(), body))
            except Exception as exc:
                answer = _exception_handler(scope, exc)
                if answer is None:
                    raise
                answered = answer(Request(scope), exc)
                if inspect.isawaitable(answered):
                    answered = await answered
                await answered(scope, receive, send)
                return
        if response is None:
            await self.app(scope, _replaying(body, more_body, receive), send)
            return
        await send(
            {
                "type": "http.response.start",
                "status": response.status_code,
                "headers": [
                    (b"content-type", JSON_CONTENT_TYPE),
                    (b"content-length", str(len(response.body)).encode()),
                    *response.headers,
                ],
            }
        )
        await send({"type": "http.response.body", "body": response.body})


def _exception_handler(scope: Scope, exc: Exception) -> Any:
    """The app's handler for ``exc`` (the nearest class in its MRO), but not the catch-all
    ``Exception`` one, which the server error middleware applies."""
    handlers = getattr(scope.get("app"), "exception_handlers", {})
    for kind in type(exc).__mro__:
        if kind is Exception:
            return None
        if kind in handlers:
            return handlers[kind]
    return None


def _replaying(body: bytes, more_body: bool, receive: Receive) -> Receive:
    """A ``receive`` that first hands out the body already read, then the rest as it comes."""
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": more_body}
        return await receive()

    return replay
