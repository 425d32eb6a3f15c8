"""The error hierarchy of a service, mapped once to ``{"error", "detail", "field"}`` responses."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AsyncExitStack
from typing import Any, Final, Protocol, runtime_checkable

import asyncpg
import structlog
from fastapi import FastAPI, Request
from fastapi.dependencies.utils import solve_dependencies
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from sqlalchemy.exc import StatementError
from starlette.exceptions import HTTPException as StarletteHTTPException

from objectstore import InvalidKey, ObjectNotFound, ObjectStoreError
from servicekit.connection_loss import (
    CONNECTION_LOST_TYPES,
    is_connection_lost,
    is_temporary_failure,
    sqlstate_of,
)

log = structlog.get_logger(__name__)

NUL_SQLSTATES: Final = frozenset({"22021", "22P05"})
"""PostgreSQL's answers to text it cannot store: ``character_not_in_repertoire`` (a NUL in a
text value) and ``untranslatable_character`` (a ``\\u0000`` escape in JSON)."""

NUL_DETAIL: Final = "text must not contain NUL characters"

UNAVAILABLE_DETAIL: Final = (
    "A service this request needs (the database) is not reachable at the moment; try again."
)
TEMPORARY_DETAIL: Final = (
    "The database cannot complete this request at the moment (a lock or statement timeout, a "
    "conflict with another transaction, or a lack of resources); try again."
)
STORAGE_UNAVAILABLE_DETAIL: Final = (
    "The object storage (bucket) is not reachable or refused the request at the moment; try again."
)
RETRY_AFTER_SECONDS: Final = 5


class ServiceError(Exception):
    """Base of every error a service raises on purpose."""

    status_code = 400
    code = "bad_request"

    def __init__(self, detail: str, *, field: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field


class InvalidInput(ServiceError):
    """The request is well-formed but its content is not acceptable."""

    status_code = 422
    code = "invalid_input"


class Unauthorized(ServiceError):
    """Missing or wrong credentials."""

    status_code = 401
    code = "unauthorized"


class Forbidden(ServiceError):
    """Valid credentials that do not open this resource."""

    status_code = 403
    code = "forbidden"


class NotFound(ServiceError):
    """The resource does not exist."""

    status_code = 404
    code = "not_found"


class Conflict(ServiceError):
    """The request conflicts with the resource's current state."""

    status_code = 409
    code = "conflict"


class Gone(ServiceError):
    """The resource existed and has been removed (for example by retention)."""

    status_code = 410
    code = "gone"


class PayloadTooLarge(ServiceError):
    """The upload is larger than allowed."""

    status_code = 413
    code = "payload_too_large"


@runtime_checkable
class DeferredCredentials(Protocol):
    """A dependency's value holding credentials it has not checked yet.

    The busiest route checks its key in the statement that does its work, so its dependency
    only takes the token. When such a request is refused before that statement runs (a body
    that cannot be read or is invalid), the error handlers call :meth:`check_credentials`
    first, so that a wrong key is answered 401 whatever the body.
    """

    async def check_credentials(self) -> None:
        """Raise :class:`Unauthorized` (or another service error) for credentials that are
        not valid; return for valid ones."""


def error_body(code: str, detail: str, field: str | None = None) -> dict[str, Any]:
    """The one error shape every endpoint answers with."""
    return {"error": code, "detail": detail, "field": field}


def _location_to_field(location: Sequence[Any]) -> str | None:
    parts = [str(part) for part in location if part not in ("body", "query", "path", "header")]
    return ".".join(parts) or None


# StatementError covers SQLAlchemy's DBAPIError; the connection-loss types include the ones
# SQLAlchemy lets through unwrapped and a new connection's own socket errors
_DATABASE_ERRORS = (StatementError, asyncpg.PostgresError, *CONNECTION_LOST_TYPES)

BODY_TOO_DEEP_DETAIL: Final = "The request body is nested too deeply to be read."


def _service_error_response(exc: ServiceError) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, Unauthorized) else None
    return JSONResponse(
        error_body(exc.code, exc.detail, exc.field), status_code=exc.status_code, headers=headers
    )


async def _authenticated_first(request: Request, answer: JSONResponse) -> JSONResponse:
    """``answer`` (a body that could not be read, or an invalid request), once the route's
    dependencies admit the caller; otherwise their own error, such as a 401.

    FastAPI reads and decodes a route's body before it solves the route's dependencies, which
    is where credentials are checked, so a malformed body would tell an unauthenticated caller
    more than "401". The dependencies are solved here as for the request, without its body
    (their own parameter errors are ignored: only what they raise counts), and credentials
    a dependency took without checking (:class:`DeferredCredentials`) are checked now.
    """
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return answer
    try:
        async with AsyncExitStack() as stack:
            # The request's own stacks closed with the route; the dependencies get fresh ones.
            scope = {
                **request.scope,
                "fastapi_inner_astack": stack,
                "fastapi_function_astack": stack,
            }
            solved = await solve_dependencies(
                request=Request(scope, request.receive),
                dependant=route.dependant,
                body=None,
                dependency_overrides_provider=route.dependency_overrides_provider,
                async_exit_stack=stack,
                embed_body_fields=False,
            )
            for value in solved.values.values():
                if isinstance(value, DeferredCredentials):
                    await value.check_credentials()
    except ServiceError as exc:
        return _service_error_response(exc)
    except _DATABASE_ERRORS as exc:
        return await _database_error(request, exc)
    return answer


async def _service_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ServiceError)
    return _service_error_response(exc)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
    field = _location_to_field(first.get("loc", ()))
    message = str(first.get("msg", "invalid request"))
    if first.get("type") == "json_invalid":
        malformed = JSONResponse(
            error_body("malformed_json", "The request body is not valid JSON.", None),
            status_code=400,
        )
        return await _authenticated_first(request, malformed)
    detail = f"{field}: {message}" if field else message
    invalid = JSONResponse(error_body("validation_error", detail, field), status_code=422)
    return await _authenticated_first(request, invalid)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    answer = JSONResponse(
        error_body(code, str(exc.detail), None),
        status_code=exc.status_code,
        headers=getattr(exc, "headers", None),
    )
    if exc.status_code != 400:
        return answer
    # The services raise their own errors, never a 400 HTTPException: this one is the
    # framework's, refusing a body it could not read (JSON or multipart).
    if isinstance(exc.__cause__, RecursionError):
        # json.loads recursing through a very deeply nested document.
        answer = JSONResponse(
            error_body("invalid_input", BODY_TOO_DEEP_DETAIL, "body"), status_code=422
        )
    return await _authenticated_first(request, answer)


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    if sqlstate_of(exc) in NUL_SQLSTATES:
        return JSONResponse(error_body("invalid_input", NUL_DETAIL, None), status_code=422)
    if is_temporary_failure(exc):
        lost = is_connection_lost(exc)
        log.warning(
            "request.database_unavailable",
            path=request.url.path,
            method=request.method,
            error=type(exc).__name__,
            sqlstate=sqlstate_of(exc),
        )
        return _unavailable("service_unavailable", UNAVAILABLE_DETAIL if lost else TEMPORARY_DETAIL)
    raise exc  # any other database error is unexpected: the handler below answers it


def _unavailable(code: str, detail: str) -> JSONResponse:
    return JSONResponse(
        error_body(code, detail, None),
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


async def _storage_error(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, ObjectNotFound | InvalidKey):
        # a service answers a missing object itself; one reaching here is a bug
        return await _unexpected(request, exc)
    log.warning(
        "request.storage_unavailable", path=request.url.path, method=request.method, error=str(exc)
    )
    return _unavailable("storage_unavailable", STORAGE_UNAVAILABLE_DETAIL)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("request.failed", path=request.url.path, method=request.method)
    # Starlette raises the error again once this answer is sent, and uvicorn then closes the
    # connection: saying so lets a keep-alive client open a new one instead of sending its
    # next request into a connection that is about to be reset.
    return JSONResponse(
        error_body("internal_error", "The server could not complete the request.", None),
        status_code=500,
        headers={"Connection": "close"},
    )


def install_error_handlers(app: FastAPI) -> None:
    """Map service errors, validation errors and unexpected errors to JSON bodies.

    A body the framework could not read (malformed JSON or multipart) and an invalid parameter
    or body are answered only after the route's dependencies admitted the caller, so a caller
    without valid credentials gets 401 whatever it sends; a JSON body nested too deeply to
    decode answers 422. A database error caused by a NUL character in a value (one the
    contracts did not see: a path or query parameter, for example) answers 422 rather than
    500; a database that is down or a lost connection to it answers 503 with ``Retry-After``
    (the pool replaces its connections by itself, so the same request succeeds again shortly),
    and so does a statement the database refused for its own state (a lock or statement
    timeout, a serialization failure, a full disk); an object store (bucket) that cannot be
    reached or refuses the request answers 503 ``storage_unavailable`` with ``Retry-After``.
    An unexpected error answers 500 with ``Connection: close``, since the server closes that
    connection after it.
    """
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    # a new connection to a database that is down fails with the socket's own error
    for kind in _DATABASE_ERRORS:
        app.add_exception_handler(kind, _database_error)
    app.add_exception_handler(ObjectStoreError, _storage_error)
    app.add_exception_handler(Exception, _unexpected)
