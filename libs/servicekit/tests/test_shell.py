"""The service shell both tiers share: Celery configuration and command-line work."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import typer
from celery import Celery
from typer.testing import CliRunner

from servicekit.commands import run_command
from servicekit.errors import Conflict
from servicekit.failures import CommandLine, service_typer
from servicekit.tasks import BROKER_CONNECT_TIMEOUT_SECONDS
from servicekit.worker import ServiceWorker, configure_celery_app
from timekeeping import ManualClock


@dataclass
class BrokerOnly:
    redis_url: str = "redis://127.0.0.1:6379/9"
    poll_seconds: float = 30.0
    broker_visibility_timeout_seconds: float = 300.0


def test_the_celery_app_keeps_the_process_logging_and_takes_one_task_at_a_time() -> None:
    celery = configure_celery_app(
        Celery("shell-test"),
        broker_url="redis://127.0.0.1:6379/9",
        task_modules=[],
        beat_schedule={"domain.tick": 5.0},
    )
    assert celery.conf.worker_hijack_root_logger is False
    assert celery.conf.worker_prefetch_multiplier == 1
    assert celery.conf.beat_schedule == {"domain.tick": {"task": "domain.tick", "schedule": 5.0}}


def test_tasks_are_acknowledged_as_they_start_and_the_visibility_timeout_is_explicit() -> None:
    celery = configure_celery_app(
        Celery("shell-test-acks"),
        broker_url="redis://127.0.0.1:6379/9",
        task_modules=[],
        beat_schedule={},
        visibility_timeout=90.0,
    )
    assert (celery.conf.task_acks_late, celery.conf.task_reject_on_worker_lost) == (False, False)
    options = celery.conf.broker_transport_options
    assert options["visibility_timeout"] == 90.0
    assert options["socket_connect_timeout"] == BROKER_CONNECT_TIMEOUT_SECONDS


def test_the_visibility_timeout_comes_from_the_settings() -> None:
    @dataclass
    class Runtime:
        clock: ManualClock

    worker: ServiceWorker[BrokerOnly, Runtime] = ServiceWorker(
        Celery("shell-test-visibility"),
        lambda settings, clock: None,  # type: ignore[arg-type,return-value]
        BrokerOnly,
        [],
        {},
    )
    celery = worker.configure_celery(BrokerOnly(broker_visibility_timeout_seconds=42.0))
    assert celery.conf.broker_transport_options["visibility_timeout"] == 42.0


def test_the_beat_schedule_reads_each_interval_from_its_setting_or_takes_a_number() -> None:
    @dataclass
    class Runtime:
        clock: ManualClock

    worker: ServiceWorker[BrokerOnly, Runtime] = ServiceWorker(
        Celery("shell-test-worker"),
        lambda settings, clock: None,  # type: ignore[arg-type,return-value]
        BrokerOnly,
        [],
        {"domain.poll": "poll_seconds", "domain.retry": 15},
    )
    celery = worker.configure_celery(BrokerOnly(poll_seconds=12.5))
    assert {name: entry["schedule"] for name, entry in celery.conf.beat_schedule.items()} == {
        "domain.poll": 12.5,
        "domain.retry": 15.0,
    }
    assert celery.conf.broker_url == "redis://127.0.0.1:6379/9"


def _command_line_running(work: Callable[[], Awaitable[None]]) -> typer.Typer:
    app = service_typer(CommandLine(command="tier", env_prefix="TIER_"), "A tier.")

    @app.command()
    def act() -> None:
        run_command(work)

    @app.command()
    def other() -> None:
        """A second command, so that ``act`` stays a sub-command."""

    return app


def test_a_refused_command_exits_1_with_the_reason_and_no_traceback() -> None:
    async def refuse() -> None:
        raise Conflict("an admin with this email exists", field="email")

    result = CliRunner().invoke(_command_line_running(refuse), ["act"])

    assert result.exit_code == 1
    assert result.stderr == "error (email): an admin with this email exists\n"


def test_a_database_that_cannot_be_reached_exits_2_naming_the_setting() -> None:
    async def unreachable() -> None:
        raise ConnectionRefusedError("connection refused")

    result = CliRunner().invoke(_command_line_running(unreachable), ["act"])

    assert result.exit_code == 2
    assert result.stderr.startswith("error: cannot connect: connection refused;")
    assert "TIER_DATABASE_URL" in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_an_unexpected_failure_is_two_lines_and_debug_shows_the_traceback() -> None:
    async def broken() -> None:
        raise KeyError("missing")

    app = _command_line_running(broken)
    result = CliRunner().invoke(app, ["act"])
    debugged = CliRunner().invoke(app, ["--debug", "act"])

    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "error: KeyError: 'missing'",
        "(run the command again with --debug for the traceback)",
    ]
    assert isinstance(debugged.exception, KeyError)


def test_a_command_returns_what_its_work_returns() -> None:
    async def work() -> int:
        return 42

    assert run_command(work) == 42
