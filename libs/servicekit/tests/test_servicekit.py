import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated

import httpx
import pytest
from celery import Celery
from fastapi import Depends, FastAPI, Header
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine
from structlog.testing import capture_logs

from servicekit.auth import bearer_token, hash_token, tokens_match
from servicekit.connection_loss import sqlstate_of
from servicekit.db import after_commit, create_engine, create_session_factory, session_scope
from servicekit.errors import (
    NUL_DETAIL,
    UNAVAILABLE_DETAIL,
    Conflict,
    Unauthorized,
    install_error_handlers,
)
from servicekit.tasks import TaskNotQueued, celery_sender
from wrktalk_testing.network import free_port
from wrktalk_testing.servers import ServedApp


@pytest.fixture(scope="module")
async def engine(create_postgres_database: Callable[[str], str]) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(create_postgres_database("servicekit"), pool_size=2)
    async with engine.begin() as connection:
        await connection.execute(text("CREATE TABLE IF NOT EXISTS note (body text)"))
    yield engine
    await engine.dispose()


async def _backend_pid(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        return int((await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def _terminate(engine: AsyncEngine, pid: int) -> None:
    async with engine.connect() as connection:
        await connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})


@asynccontextmanager
async def _pool_with_a_closed_connection(
    url: str, *, idle_ping_after: float
) -> AsyncIterator[tuple[AsyncEngine, int]]:
    """An engine of one pooled connection whose server process was just terminated, and
    that process's id."""
    engine = create_engine(url, pool_size=1, idle_ping_after=idle_ping_after)
    other = create_engine(url, pool_size=1)
    try:
        pid = await _backend_pid(engine)
        await _terminate(other, pid)
        yield engine, pid
    finally:
        await engine.dispose()
        await other.dispose()


async def test_an_idle_connection_the_database_closed_is_replaced_at_checkout(
    create_postgres_database: Callable[[str], str],
) -> None:
    url = create_postgres_database("servicekit")
    async with _pool_with_a_closed_connection(url, idle_ping_after=0.0) as (engine, closed):
        await asyncio.sleep(0.05)  # the checkin is older than idle_ping_after=0
        assert await _backend_pid(engine) != closed


async def test_a_connection_used_a_moment_ago_is_not_pinged_and_the_pool_recovers(
    create_postgres_database: Callable[[str], str],
) -> None:
    url = create_postgres_database("servicekit")
    async with _pool_with_a_closed_connection(url, idle_ping_after=3600.0) as (engine, closed):
        with pytest.raises(DBAPIError) as caught:
            await _backend_pid(engine)
        assert caught.value.connection_invalidated
        assert await _backend_pid(engine) != closed


def _pid_app(engine: AsyncEngine) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/pid")
    async def pid() -> dict[str, int]:
        return {"pid": await _backend_pid(engine)}

    return app


async def test_a_lost_database_connection_answers_503_and_the_next_request_succeeds(
    create_postgres_database: Callable[[str], str],
) -> None:
    url = create_postgres_database("servicekit")
    async with _pool_with_a_closed_connection(url, idle_ping_after=3600.0) as (engine, closed):
        transport = httpx.ASGITransport(app=_pid_app(engine), raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            lost = await client.get("/pid")
            again = await client.get("/pid")
    assert lost.status_code == 503, lost.text
    assert lost.json() == {
        "error": "service_unavailable",
        "detail": UNAVAILABLE_DETAIL,
        "field": None,
    }
    assert lost.headers["retry-after"] == "5"
    assert again.status_code == 200
    assert again.json()["pid"] != closed


async def test_a_database_that_is_down_answers_503() -> None:
    engine = create_engine(f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/none")
    transport = httpx.ASGITransport(app=_pid_app(engine), raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            response = await client.get("/pid")
    finally:
        await engine.dispose()
    assert response.status_code == 503, response.text
    assert response.json()["error"] == "service_unavailable"


async def test_after_commit_callbacks_run_only_after_commit(engine: AsyncEngine) -> None:
    factory = create_session_factory(engine)
    ran: list[str] = []
    async with session_scope(factory) as session:
        await session.exec(text("INSERT INTO note VALUES ('kept')"))  # type: ignore[call-overload]
        after_commit(session, lambda: ran.append("sent"))
        assert ran == []
    assert ran == ["sent"]


async def test_rollback_drops_after_commit_callbacks_and_rows(engine: AsyncEngine) -> None:
    factory = create_session_factory(engine)
    ran: list[str] = []
    with pytest.raises(RuntimeError):
        async with session_scope(factory) as session:
            await session.exec(text("INSERT INTO note VALUES ('dropped')"))  # type: ignore[call-overload]
            after_commit(session, lambda: ran.append("sent"))
            raise RuntimeError("boom")
    assert ran == []
    async with engine.connect() as connection:
        count = await connection.scalar(text("SELECT count(*) FROM note WHERE body = 'dropped'"))
    assert count == 0


async def test_a_failing_after_commit_callback_is_logged_and_the_others_still_run(
    engine: AsyncEngine,
) -> None:
    factory = create_session_factory(engine)
    ran: list[str] = []

    def broker_down() -> None:
        raise ConnectionRefusedError(111, "Connection refused")

    with capture_logs() as logs:
        async with session_scope(factory) as session:
            await session.exec(text("INSERT INTO note VALUES ('committed anyway')"))  # type: ignore[call-overload]
            after_commit(session, broker_down)
            after_commit(session, lambda: ran.append("sent"))
    assert ran == ["sent"]
    assert [entry["event"] for entry in logs] == ["session.after_commit.failed"]
    assert "broker_down" in logs[0]["callback"]
    async with engine.connect() as connection:
        count = await connection.scalar(
            text("SELECT count(*) FROM note WHERE body = 'committed anyway'")
        )
    assert count == 1


async def test_a_task_the_broker_does_not_take_is_logged_once_with_its_name(
    engine: AsyncEngine,
) -> None:
    send_task = celery_sender(Celery("unreachable"), f"redis://127.0.0.1:{free_port()}/0")
    factory = create_session_factory(engine)
    with capture_logs() as logs:
        started = time.monotonic()
        async with session_scope(factory) as session:
            after_commit(session, lambda: send_task("domain.nudge", "argument"))
        took = time.monotonic() - started
    assert logs == [
        {
            "event": "task.enqueue.failed",
            "log_level": "warning",
            "task": "domain.nudge",
            "error": logs[0]["error"],
        }
    ]
    assert "Connection refused" in logs[0]["error"]
    assert took < 1.0  # a short publish retry, not Celery's default of over a second


def test_the_task_sender_raises_task_not_queued_when_the_broker_is_down() -> None:
    send_task = celery_sender(Celery("unreachable"), f"redis://127.0.0.1:{free_port()}/0")
    with pytest.raises(TaskNotQueued) as caught:
        send_task("domain.nudge")
    assert caught.value.task == "domain.nudge"


class Body(BaseModel):
    version: str
    count: int


def _app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/things")
    async def create(body: Body) -> dict[str, str]:
        raise Conflict("already there", field="version")

    @app.get("/boom")
    async def boom() -> dict[str, str]:
        raise RuntimeError("secret internals")

    return app


async def test_errors_share_one_shape() -> None:
    transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        conflict = await client.post("/things", json={"version": "1", "count": 1})
        wrong_type = await client.post("/things", json={"version": "1", "count": "many"})
        malformed = await client.post(
            "/things", content=b"{not json", headers={"Content-Type": "application/json"}
        )
        unexpected = await client.get("/boom")
        missing = await client.get("/nowhere")
    assert conflict.status_code == 409
    assert conflict.json() == {"error": "conflict", "detail": "already there", "field": "version"}
    assert wrong_type.status_code == 422
    assert wrong_type.json()["field"] == "count"
    assert malformed.status_code == 400
    assert malformed.json()["error"] == "malformed_json"
    assert unexpected.status_code == 500
    assert "secret internals" not in unexpected.text
    assert missing.status_code == 404
    assert missing.json()["error"] == "not_found"


def _database_app(engine: AsyncEngine) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    factory = create_session_factory(engine)

    @app.post("/notes")
    async def add_note(body: str) -> dict[str, str]:
        async with session_scope(factory) as session:
            await session.exec(text("INSERT INTO note VALUES (:body)"), params={"body": body})  # type: ignore[call-overload]
        return {"body": body}

    @app.get("/documents")
    async def parse_document(document: str) -> dict[str, str]:
        async with engine.connect() as connection:
            await connection.execute(
                text("SELECT CAST(:document AS jsonb)"), {"document": document}
            )
        return {"document": document}

    @app.get("/raw")
    async def raw_driver(body: str) -> dict[str, str]:
        async with engine.connect() as connection:
            raw = await connection.get_raw_connection()
            await raw.driver_connection.fetchval("SELECT $1::text", body)  # type: ignore[union-attr]
        return {"body": body}

    @app.get("/missing")
    async def missing_table() -> dict[str, str]:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT * FROM no_such_table"))
        return {}

    return app


async def test_nul_characters_refused_by_the_database_answer_422(engine: AsyncEngine) -> None:
    transport = httpx.ASGITransport(app=_database_app(engine), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        in_text = await client.post("/notes", params={"body": "a\x00b"})
        in_json = await client.get("/documents", params={"document": '{"a": "\\u0000"}'})
        from_driver = await client.get("/raw", params={"body": "\x00"})
        kept = await client.post("/notes", params={"body": "fine"})
        other_error = await client.get("/missing")
    expected = {"error": "invalid_input", "detail": NUL_DETAIL, "field": None}
    for response in (in_text, in_json, from_driver):
        assert response.status_code == 422, response.text
        assert response.json() == expected
    assert kept.status_code == 200
    assert other_error.status_code == 500
    assert other_error.json()["error"] == "internal_error"


async def test_database_errors_do_not_quote_the_statements_parameters(engine: AsyncEngine) -> None:
    secret = "-".join(("whsec", "never-in-an-error-message"))
    with pytest.raises(DBAPIError) as caught:
        async with engine.connect() as connection:
            await connection.execute(
                text("INSERT INTO no_such_table VALUES (:secret)"), {"secret": secret}
            )
    assert sqlstate_of(caught.value) == "42P01"
    assert "no_such_table" in str(caught.value)
    assert secret not in str(caught.value)


def test_bearer_tokens() -> None:
    assert bearer_token("Bearer abc") == "abc"
    assert bearer_token("bearer  abc ") == "abc"
    assert bearer_token("Basic abc") is None
    assert bearer_token("Bearer ") is None
    assert bearer_token(None) is None
    assert tokens_match("abc", "abc")
    assert not tokens_match("abc", "abd")
    assert hash_token("abc") != hash_token("abd")
    assert len(hash_token("abc")) == 64


class _Note(BaseModel):
    body: str


def _guarded_app() -> FastAPI:
    """A route whose dependency admits only ``Bearer right``, with a JSON body."""

    async def require_token(authorization: Annotated[str | None, Header()] = None) -> None:
        if authorization != "Bearer right":
            raise Unauthorized("A valid token is required.")

    app = FastAPI()
    install_error_handlers(app)

    @app.post("/notes")
    async def add_note(note: _Note, _: Annotated[None, Depends(require_token)]) -> _Note:
        return note

    return app


@pytest.mark.parametrize(
    ("authorization", "body", "status", "error"),
    [
        (None, b'{"body": ', 401, "unauthorized"),
        ("Bearer wrong", b'{"body": ', 401, "unauthorized"),
        ("Bearer wrong", b"[" * 100_000, 401, "unauthorized"),
        ("Bearer right", b'{"body": ', 400, "malformed_json"),
        ("Bearer right", b"[" * 100_000, 422, "invalid_input"),
        ("Bearer right", b'{"body": "fine"}', 200, None),
    ],
    ids=["none-malformed", "wrong-malformed", "wrong-deep", "right-malformed", "right-deep", "ok"],
)
async def test_credentials_are_checked_before_a_body_that_cannot_be_read(
    authorization: str | None, body: bytes, status: int, error: str | None
) -> None:
    headers = {"Content-Type": "application/json"}
    if authorization is not None:
        headers["Authorization"] = authorization
    transport = httpx.ASGITransport(app=_guarded_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.post("/notes", content=body, headers=headers)

    assert response.status_code == status, response.text
    if error is not None:
        assert response.json()["error"] == error


@pytest.mark.parametrize("authorization", [None, "Bearer wrong"])
async def test_an_invalid_body_is_refused_with_401_before_it_is_validated(
    authorization: str | None,
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    transport = httpx.ASGITransport(app=_guarded_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.post("/notes", json={"body": 42}, headers=headers)

    assert response.status_code == 401, response.text


class _DeferredToken:
    """Credentials a dependency took unchecked, as GCC's heartbeat does."""

    def __init__(self, token: str | None) -> None:
        self.token = token

    async def check_credentials(self) -> None:
        if self.token != "Bearer right":
            raise Unauthorized("A valid token is required.")


def _deferred_app() -> FastAPI:
    async def take_token(authorization: Annotated[str | None, Header()] = None) -> _DeferredToken:
        return _DeferredToken(authorization)

    app = FastAPI()
    install_error_handlers(app)

    @app.post("/notes")
    async def add_note(note: _Note, _: Annotated[_DeferredToken, Depends(take_token)]) -> _Note:
        return note

    return app


@pytest.mark.parametrize(
    ("authorization", "body", "status"),
    [
        ("Bearer wrong", b'{"body": ', 401),
        ("Bearer wrong", b'{"body": 42}', 401),
        ("Bearer right", b'{"body": ', 400),
        ("Bearer right", b'{"body": 42}', 422),
    ],
    ids=["wrong-malformed", "wrong-invalid", "right-malformed", "right-invalid"],
)
async def test_credentials_taken_unchecked_are_checked_before_a_bad_body_is_answered(
    authorization: str, body: bytes, status: int
) -> None:
    headers = {"Authorization": authorization, "Content-Type": "application/json"}
    transport = httpx.ASGITransport(app=_deferred_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.post("/notes", content=body, headers=headers)

    assert response.status_code == status, response.text


def _failing_app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/fails")
    async def fails() -> None:
        raise RuntimeError("nobody expected this")

    @app.get("/works")
    async def works() -> dict[str, bool]:
        return {"ok": True}

    return app


async def test_after_an_unexpected_error_a_keep_alive_client_goes_on_without_a_reset() -> None:
    served = ServedApp(_failing_app())
    served.start()
    try:
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        # a generous timeout: the point is the connection's reuse, not its speed on a busy machine
        async with httpx.AsyncClient(
            base_url=served.base_url, limits=limits, timeout=30.0
        ) as client:
            for _ in range(3):
                failed = await client.get("/fails")
                assert failed.status_code == 500
                assert failed.headers["connection"] == "close"
                assert failed.json()["error"] == "internal_error"
                # the same client, and so the pooled connection unless it was closed
                assert (await client.get("/works")).json() == {"ok": True}
    finally:
        served.stop()
