import asyncio
import copy
import io
import json
import logging
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import structlog

from logconfig import (
    REDACTED,
    configure_logging,
    get_logger,
    is_secret_key,
    log_context,
    logging_restored,
    redact,
    redact_secrets,
)


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    with logging_restored():
        yield
    structlog.reset_defaults()


def json_lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


# Redaction


@pytest.mark.parametrize(
    "key",
    [
        "secret",
        "webhook_secret",
        "WRKTALK_WEBHOOK_SECRET",
        "token",
        "access_token",
        "refreshToken",
        "password",
        "DB_PASSWORD",
        "passwd",
        "api_key",
        "API-KEY",
        "apiKey",
        "x_api_key",
        "Authorization",
        "proxy-authorization",
        "X-Agent-Secret",
        "x_agent_secret",
        "Cookie",
        "set-cookie",
        "credentials",
        "aws_credential",
        b"authorization",
    ],
)
def test_secret_looking_keys_are_recognised(key: str | bytes) -> None:
    assert is_secret_key(key)


@pytest.mark.parametrize("key", ["event", "user", "release_version", "sha256", "url", 42, None])
def test_ordinary_keys_are_not_secret(key: object) -> None:
    assert not is_secret_key(key)


def test_secret_values_are_redacted_at_every_depth() -> None:
    event = {
        "event": "webhook.delivery.failed",
        "password": "hunter2",
        "request": {
            "url": "https://customer.example/webhooks",
            "headers": {"Authorization": "Bearer abc", "X-Agent-Secret": "s3", "Accept": "*/*"},
            "body": {"release": {"version": "2.10.0", "signing": {"webhook_secret": "whsec_x"}}},
        },
    }
    result = redact_secrets(None, "info", event)
    assert result == {
        "event": "webhook.delivery.failed",
        "password": REDACTED,
        "request": {
            "url": "https://customer.example/webhooks",
            "headers": {"Authorization": REDACTED, "X-Agent-Secret": REDACTED, "Accept": "*/*"},
            "body": {"release": {"version": "2.10.0", "signing": {"webhook_secret": REDACTED}}},
        },
    }


def test_secret_values_inside_lists_and_tuples_are_redacted() -> None:
    event = {
        "event": "agents.listed",
        "agents": [{"name": "a", "agent_secret": "1"}, {"name": "b", "API_KEY": "2"}],
        "pairs": ({"token": "3"}, [{"nested": ({"Cookie": "4"},)}]),
        "raw_headers": [(b"authorization", b"Bearer 5"), (b"accept", b"*/*")],
    }
    result = redact_secrets(None, "info", event)
    assert result["agents"] == [
        {"name": "a", "agent_secret": REDACTED},
        {"name": "b", "API_KEY": REDACTED},
    ]
    assert result["pairs"] == ({"token": REDACTED}, [{"nested": ({"Cookie": REDACTED},)}])
    assert result["raw_headers"] == [(b"authorization", REDACTED), (b"accept", b"*/*")]


def test_whole_value_of_a_secret_key_is_redacted_even_when_it_is_a_container() -> None:
    result = redact({"credentials": {"user": "u", "pass": "p"}, "tokens": ["a", "b"]})
    assert result == {"credentials": REDACTED, "tokens": REDACTED}


def test_redaction_does_not_modify_the_logged_objects() -> None:
    headers = {"Authorization": "Bearer abc", "Accept": "*/*"}
    items = [{"token": "t"}, ("x", {"password": "p"})]
    event = {"event": "x", "headers": headers, "items": items, "api_key": "k"}
    before = copy.deepcopy(event)
    result = redact_secrets(None, "info", event)
    assert event == before
    assert result is not event
    assert result["headers"] is not headers
    assert headers == {"Authorization": "Bearer abc", "Accept": "*/*"}
    assert items[0] == {"token": "t"}


def test_ordinary_values_are_kept_unchanged() -> None:
    stamp = datetime(2026, 1, 1, tzinfo=UTC)
    event = {"event": "release.published", "version": "2.10.0", "count": 3, "at": stamp, "ok": True}
    assert redact_secrets(None, "info", event) == event


def test_self_referencing_containers_do_not_recurse_forever() -> None:
    loop: dict[str, Any] = {"token": "t"}
    loop["self"] = loop
    result = redact(loop)
    assert result == {"token": REDACTED, "self": "<recursion>"}


# Configured output


def test_structlog_event_is_one_json_line_with_the_standard_fields() -> None:
    stream = io.StringIO()
    configure_logging(service="gcc-api", stream=stream)
    get_logger("gcc.releases").info("release.published", version="2.10.0")
    (line,) = json_lines(stream)
    assert line["event"] == "release.published"
    assert line["version"] == "2.10.0"
    assert line["level"] == "info"
    assert line["logger"] == "gcc.releases"
    assert line["service"] == "gcc-api"
    stamp = datetime.fromisoformat(line["timestamp"])
    assert stamp.utcoffset() == timedelta(0)
    assert abs(datetime.now(tz=UTC) - stamp) < timedelta(minutes=1)


def test_secrets_are_redacted_in_the_output() -> None:
    stream = io.StringIO()
    configure_logging(stream=stream)
    get_logger("gcc.delivery").warning(
        "webhook.delivery.failed",
        headers={"Authorization": "Bearer hunter2"},
        attempts=[{"x-agent-secret": "hunter2"}],
        api_key="hunter2",
    )
    assert "hunter2" not in stream.getvalue()
    (line,) = json_lines(stream)
    assert line["headers"] == {"Authorization": REDACTED}
    assert line["attempts"] == [{"x-agent-secret": REDACTED}]
    assert line["api_key"] == REDACTED


def test_contextvars_are_merged() -> None:
    stream = io.StringIO()
    configure_logging(stream=stream)
    structlog.contextvars.bind_contextvars(request_id="req-1", token="hunter2")
    get_logger("gcc").info("request.handled")
    logging.getLogger("celery.worker").info("stdlib record")
    lines = json_lines(stream)
    assert [line["request_id"] for line in lines] == ["req-1", "req-1"]
    assert [line["token"] for line in lines] == [REDACTED, REDACTED]


def test_log_context_names_the_work_on_every_line_inside_it_and_no_other() -> None:
    stream = io.StringIO()
    configure_logging(stream=stream)
    task_id = uuid.uuid4()
    log = get_logger("agent")
    with log_context(release_id="r-1", deployment_id=None):
        with log_context(task_id=task_id):
            log.info("command.started")
            logging.getLogger("httpx").info("HTTP Request: POST")
            log.info("task.finished", release_id="explicit")
        log.info("release.downloaded")
    log.info("agent.poll.empty")
    started, request, finished, downloaded, empty = json_lines(stream)
    for inside in (started, request):
        assert (inside["release_id"], inside["task_id"]) == ("r-1", str(task_id))
        assert "deployment_id" not in inside
    assert finished["release_id"] == "explicit"
    assert downloaded["release_id"] == "r-1"
    assert "task_id" not in downloaded
    assert "release_id" not in empty


def test_an_inner_log_context_gives_the_outer_ids_back_when_it_ends() -> None:
    stream = io.StringIO()
    configure_logging(stream=stream)
    log = get_logger("agent")
    with log_context(task_id="outer"):
        with log_context(task_id="inner", step="helm"):
            log.info("command.started")
        log.info("task.finished")
    started, finished = json_lines(stream)
    assert (started["task_id"], started["step"]) == ("inner", "helm")
    assert finished["task_id"] == "outer"
    assert "step" not in finished


async def test_log_context_is_each_asyncio_tasks_own() -> None:
    stream = io.StringIO()
    configure_logging(stream=stream)

    async def work(task_id: str) -> None:
        with log_context(task_id=task_id):
            await asyncio.sleep(0)
            get_logger("agent").info("task.step", step=task_id)

    await asyncio.gather(work("one"), work("two"))
    assert sorted((line["step"], line["task_id"]) for line in json_lines(stream)) == [
        ("one", "one"),
        ("two", "two"),
    ]


def test_stdlib_records_are_rendered_as_json_too() -> None:
    stream = io.StringIO()
    configure_logging(service="customer-backend", stream=stream)
    logging.getLogger("celery.worker.strategy").warning(
        "Task %s received", "deliver_webhooks", extra={"task_id": "t-1", "password": "hunter2"}
    )
    (line,) = json_lines(stream)
    assert line["event"] == "Task deliver_webhooks received"
    assert line["level"] == "warning"
    assert line["logger"] == "celery.worker.strategy"
    assert line["service"] == "customer-backend"
    assert line["task_id"] == "t-1"
    assert line["password"] == REDACTED
    assert datetime.fromisoformat(line["timestamp"]).utcoffset() == timedelta(0)


@pytest.fixture
def access_level_unset() -> Iterator[None]:
    """``uvicorn.access`` without the level a server started earlier in this process gave it
    (uvicorn sets its loggers' levels from ``log_level``), put back afterwards."""
    access = logging.getLogger("uvicorn.access")
    level = access.level
    access.setLevel(logging.NOTSET)
    yield
    access.setLevel(level)


@pytest.mark.usefixtures("access_level_unset")
def test_uvicorn_loggers_with_their_own_handlers_are_routed_through_the_root() -> None:
    access = logging.getLogger("uvicorn.access")
    own_output = io.StringIO()
    access.addHandler(logging.StreamHandler(own_output))
    access.propagate = False
    stream = io.StringIO()
    configure_logging(stream=stream)
    access.info(
        '%s - "%s %s HTTP/%s" %d',
        "127.0.0.1:5000",
        "GET",
        "/healthz",
        "1.1",
        200,
        extra={"color_message": "\x1b[1mGET\x1b[0m"},
    )
    assert own_output.getvalue() == ""
    (line,) = json_lines(stream)
    assert line["event"] == '127.0.0.1:5000 - "GET /healthz HTTP/1.1" 200'
    assert line["logger"] == "uvicorn.access"
    assert "color_message" not in line


def test_exceptions_are_formatted_for_structlog_and_stdlib() -> None:
    stream = io.StringIO()
    configure_logging(stream=stream)
    try:
        raise ValueError("bad artifact")
    except ValueError:
        get_logger("gcc").exception("artifact.upload.failed")
        logging.getLogger("library").exception("library failed")
    structlog_line, stdlib_line = json_lines(stream)
    for line in (structlog_line, stdlib_line):
        assert line["level"] == "error"
        assert "Traceback (most recent call last)" in line["exception"]
        assert "ValueError: bad artifact" in line["exception"]
        assert "exc_info" not in line


def test_level_filters_both_structlog_and_stdlib() -> None:
    stream = io.StringIO()
    configure_logging(level="warning", stream=stream)
    get_logger("gcc").info("dropped")
    logging.getLogger("library").info("dropped")
    get_logger("gcc").warning("kept")
    logging.getLogger("library").error("kept too")
    assert [line["event"] for line in json_lines(stream)] == ["kept", "kept too"]


def test_debug_level_lets_debug_through() -> None:
    stream = io.StringIO()
    configure_logging(level="DEBUG", stream=stream)
    get_logger("agent").debug("poll.started")
    assert [line["event"] for line in json_lines(stream)] == ["poll.started"]


def test_unknown_level_is_refused() -> None:
    with pytest.raises(ValueError, match="VERBOSE"):
        configure_logging(level="VERBOSE")


def test_multi_line_messages_stay_on_one_line() -> None:
    stream = io.StringIO()
    configure_logging(stream=stream)
    get_logger("agent").info("helm.output", output="line one\nline two")
    logging.getLogger("library").info("first\nsecond")
    lines = json_lines(stream)
    assert [line.get("output", line["event"]) for line in lines] == [
        "line one\nline two",
        "first\nsecond",
    ]


def test_configuring_twice_replaces_the_handler() -> None:
    first, second = io.StringIO(), io.StringIO()
    configure_logging(stream=first, service="one")
    configure_logging(stream=second, service="two")
    get_logger("gcc").info("once")
    logging.getLogger("library").info("once too")
    assert first.getvalue() == ""
    lines = json_lines(second)
    assert [line["event"] for line in lines] == ["once", "once too"]
    assert {line["service"] for line in lines} == {"two"}


def test_service_is_left_out_when_not_given() -> None:
    stream = io.StringIO()
    configure_logging(stream=stream)
    get_logger("gcc").info("no.service")
    (line,) = json_lines(stream)
    assert "service" not in line


def test_default_stream_is_standard_output(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(service="agent")
    get_logger("agent.loop").info("task.claimed", task_id="t-9")
    logging.getLogger("httpx").info("HTTP Request: GET /internal/agent/tasks")
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(line["logger"], line["event"]) for line in lines] == [
        ("agent.loop", "task.claimed"),
        ("httpx", "HTTP Request: GET /internal/agent/tasks"),
    ]


def test_console_rendering_for_local_development() -> None:
    stream = io.StringIO()
    configure_logging(json=False, stream=stream)
    get_logger("gcc").info("release.published", version="2.10.0", token="hunter2")
    output = stream.getvalue()
    assert "release.published" in output
    assert "version=2.10.0" in output
    assert "hunter2" not in output
    assert "\x1b[" not in output


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("terminal", [True, False], ids=["terminal", "file"])
def test_console_tracebacks_leave_out_local_variables(terminal: bool) -> None:
    stream = Terminal() if terminal else io.StringIO()
    configure_logging(json=False, stream=stream)

    def insert(parameters: tuple[str, ...]) -> None:
        raise ValueError("insert failed")

    secret = "-".join(("whsec", "hunter2"))  # the source lines a traceback shows must not hold it
    try:
        insert(("customer-x", secret))
    except ValueError:
        get_logger("gcc").exception("request.failed")
    output = stream.getvalue()
    assert "ValueError" in output
    assert "insert failed" in output
    assert secret not in output
    assert ("\x1b[" in output) is terminal


def test_get_logger_binds_initial_values() -> None:
    stream = io.StringIO()
    configure_logging(stream=stream)
    get_logger("agent", agent_id="a-1").info("heartbeat.sent")
    (line,) = json_lines(stream)
    assert line["agent_id"] == "a-1"
    assert line["logger"] == "agent"
