"""Each error that means a lost database connection, as asyncpg and SQLAlchemy raise it.

The errors are built the way they reach a route: asyncpg's own, translated by SQLAlchemy's
asyncpg dialect, and wrapped by the engine. The real-database cases (a terminated connection,
a database that is down) are in ``test_servicekit.py``.
"""

from __future__ import annotations

import asyncpg
import httpx
import pytest
import sqlalchemy.dialects.postgresql.asyncpg as asyncpg_dialect
from asyncpg import exceptions as asyncpg_exceptions
from fastapi import FastAPI
from sqlalchemy import exc as sqlalchemy_exc

from objectstore import ObjectNotFound, ObjectStoreError
from servicekit.connection_loss import is_connection_lost, is_temporary_failure
from servicekit.errors import (
    STORAGE_UNAVAILABLE_DETAIL,
    TEMPORARY_DETAIL,
    UNAVAILABLE_DETAIL,
    install_error_handlers,
)

_DBAPI = asyncpg_dialect.AsyncAdapt_asyncpg_dbapi(asyncpg)  # type: ignore[no-untyped-call]


def as_sqlalchemy_raises(error: Exception, *, invalidated: bool = False) -> BaseException:
    """``error`` as the engine raises it: translated by the dialect, then wrapped."""
    try:
        asyncpg_dialect.AsyncAdapt_asyncpg_connection._handle_exception_no_connection(_DBAPI, error)
    except Exception as translated:
        return sqlalchemy_exc.DBAPIError.instance(
            "SELECT 1", {}, translated, _DBAPI.Error, connection_invalidated=invalidated
        )
    raise AssertionError("the dialect did not raise")


LOST = {
    "asyncpg InternalClientError (state switch)": asyncpg.InternalClientError(
        "cannot switch to state 12; another operation (2) is in progress"
    ),
    "asyncpg ConnectionDoesNotExistError": asyncpg.ConnectionDoesNotExistError(
        "connection was closed in the middle of operation"
    ),
    "asyncpg InterfaceError (closed)": asyncpg.InterfaceError("connection is closed"),
    "asyncpg InterfaceError (in progress)": asyncpg.InterfaceError(
        "cannot perform operation: another operation is in progress"
    ),
    "asyncpg CannotConnectNowError": asyncpg.CannotConnectNowError(
        "the database system is starting up"
    ),
    "asyncpg AdminShutdownError": asyncpg.AdminShutdownError(
        "terminating connection due to administrator command"
    ),
    "asyncpg CrashShutdownError": asyncpg_exceptions.CrashShutdownError("crash"),
    "asyncpg ConnectionFailureError": asyncpg_exceptions.ConnectionFailureError("failure"),
    "asyncpg ClientCannotConnectError": asyncpg_exceptions.ClientCannotConnectError("no"),
    "asyncpg ConnectionRejectionError": asyncpg_exceptions.ConnectionRejectionError("no"),
    "asyncpg TooManyConnectionsError": asyncpg.TooManyConnectionsError("too many clients"),
    "asyncpg ProtocolError": asyncpg_exceptions.ProtocolError("unexpected message"),
    "ConnectionResetError": ConnectionResetError(104, "Connection reset by peer"),
    "ConnectionRefusedError": ConnectionRefusedError(111, "Connection refused"),
    "BrokenPipeError": BrokenPipeError(32, "Broken pipe"),
}

NOT_LOST = {
    "asyncpg UniqueViolationError": asyncpg.UniqueViolationError("duplicate key"),
    "asyncpg UndefinedTableError": asyncpg.UndefinedTableError("no such table"),
    "asyncpg QueryCanceledError": asyncpg.QueryCanceledError("statement timeout"),
    "asyncpg ClientConfigurationError": asyncpg_exceptions.ClientConfigurationError("bad dsn"),
    "ValueError": ValueError("not a database error"),
}


@pytest.mark.parametrize("error", LOST.values(), ids=LOST.keys())
def test_a_lost_connection_is_recognised_as_raised_by_asyncpg(error: Exception) -> None:
    assert is_connection_lost(error)


@pytest.mark.parametrize("error", LOST.values(), ids=LOST.keys())
def test_a_lost_connection_is_recognised_as_wrapped_by_sqlalchemy(error: Exception) -> None:
    wrapped = as_sqlalchemy_raises(error)
    assert isinstance(wrapped, sqlalchemy_exc.StatementError)
    assert is_connection_lost(wrapped)


@pytest.mark.parametrize("error", NOT_LOST.values(), ids=NOT_LOST.keys())
def test_an_error_about_the_statement_is_not_a_lost_connection(error: Exception) -> None:
    assert not is_connection_lost(error)
    assert not is_connection_lost(as_sqlalchemy_raises(error))


def test_an_error_sqlalchemy_invalidated_the_connection_for_is_a_lost_connection() -> None:
    error = asyncpg.PostgresError("server closed the connection unexpectedly")
    assert not is_connection_lost(as_sqlalchemy_raises(error))
    assert is_connection_lost(as_sqlalchemy_raises(error, invalidated=True))


@pytest.mark.parametrize(
    "error",
    [
        sqlalchemy_exc.DisconnectionError("pooled connection failed its ping"),
        sqlalchemy_exc.TimeoutError("QueuePool limit of size 20 overflow 20 reached"),
    ],
    ids=["DisconnectionError", "pool TimeoutError"],
)
def test_sqlalchemy_pool_errors_are_a_lost_connection(error: Exception) -> None:
    assert is_connection_lost(error)


def _raising_app(errors: dict[str, BaseException]) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/fail/{name}")
    async def fail(name: str) -> None:
        raise errors[name]

    return app


async def test_every_lost_connection_answers_503_with_retry_after() -> None:
    errors: dict[str, BaseException] = {}
    for index, error in enumerate(LOST.values()):
        errors[f"raw-{index}"] = error
        errors[f"wrapped-{index}"] = as_sqlalchemy_raises(error)
    errors["pool-timeout"] = sqlalchemy_exc.TimeoutError("QueuePool limit reached")
    errors["statement"] = as_sqlalchemy_raises(asyncpg.UniqueViolationError("duplicate key"))
    transport = httpx.ASGITransport(app=_raising_app(errors), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        answers = {name: await client.get(f"/fail/{name}") for name in errors}
    statement = answers.pop("statement")
    for name, response in answers.items():
        assert response.status_code == 503, (name, response.text)
        assert response.headers["retry-after"] == "5", name
        assert response.json() == {
            "error": "service_unavailable",
            "detail": UNAVAILABLE_DETAIL,
            "field": None,
        }
    assert statement.status_code == 500
    assert statement.json()["error"] == "internal_error"


TEMPORARY = {
    "asyncpg QueryCanceledError (statement timeout)": asyncpg.QueryCanceledError("timeout"),
    "asyncpg LockNotAvailableError": asyncpg_exceptions.LockNotAvailableError("lock timeout"),
    "asyncpg SerializationError": asyncpg_exceptions.SerializationError("could not serialize"),
    "asyncpg DeadlockDetectedError": asyncpg_exceptions.DeadlockDetectedError("deadlock"),
    "asyncpg DiskFullError": asyncpg_exceptions.DiskFullError("could not extend file"),
    "asyncpg OutOfMemoryError": asyncpg_exceptions.OutOfMemoryError("out of memory"),
    "asyncpg ReadOnlySQLTransactionError": asyncpg_exceptions.ReadOnlySQLTransactionError(
        "cannot execute INSERT in a read-only transaction"
    ),
}


@pytest.mark.parametrize("error", TEMPORARY.values(), ids=TEMPORARY.keys())
def test_a_temporary_refusal_is_temporary_but_no_lost_connection(error: Exception) -> None:
    assert is_temporary_failure(error)
    assert is_temporary_failure(as_sqlalchemy_raises(error))
    assert not is_connection_lost(as_sqlalchemy_raises(error))


@pytest.mark.parametrize("error", LOST.values(), ids=LOST.keys())
def test_a_lost_connection_is_a_temporary_failure(error: Exception) -> None:
    assert is_temporary_failure(as_sqlalchemy_raises(error))


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.UniqueViolationError("duplicate key"),
        asyncpg.UndefinedTableError("no such table"),
        asyncpg_exceptions.RaiseError("raised by a function"),
    ],
    ids=["UniqueViolationError", "UndefinedTableError", "RaiseError"],
)
def test_an_error_about_the_statement_is_no_temporary_failure(error: Exception) -> None:
    assert not is_temporary_failure(as_sqlalchemy_raises(error))


async def test_temporary_refusals_answer_503_and_a_bug_in_the_statement_500() -> None:
    errors: dict[str, BaseException] = {
        f"temporary-{index}": as_sqlalchemy_raises(error)
        for index, error in enumerate(TEMPORARY.values())
    }
    errors["raised"] = as_sqlalchemy_raises(asyncpg_exceptions.RaiseError("bug"))
    transport = httpx.ASGITransport(app=_raising_app(errors), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        answers = {name: await client.get(f"/fail/{name}") for name in errors}
    assert answers.pop("raised").status_code == 500
    for name, response in answers.items():
        assert response.status_code == 503, (name, response.text)
        assert response.headers["retry-after"] == "5", name
        assert response.json() == {
            "error": "service_unavailable",
            "detail": TEMPORARY_DETAIL,
            "field": None,
        }


async def test_a_bucket_error_answers_503_storage_unavailable_and_a_missing_object_500() -> None:
    errors: dict[str, BaseException] = {
        "bucket": ObjectStoreError("S3 put of 'a' failed: Could not connect to the endpoint URL"),
        "missing": ObjectNotFound("a"),
    }
    transport = httpx.ASGITransport(app=_raising_app(errors), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        bucket = await client.get("/fail/bucket")
        missing = await client.get("/fail/missing")
    assert bucket.status_code == 503
    assert bucket.headers["retry-after"] == "5"
    assert bucket.json() == {
        "error": "storage_unavailable",
        "detail": STORAGE_UNAVAILABLE_DETAIL,
        "field": None,
    }
    assert missing.status_code == 500
    assert missing.json()["error"] == "internal_error"
