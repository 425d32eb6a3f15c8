"""Maintenance mode (seed 001): a flag file and an optional command, around a deployment or
when an admin switches it.

A proxy such as nginx or haproxy serves a maintenance page while the flag file exists; the
command (``nginx -s reload``) makes it notice. Around a deployment, switching on or off never
fails the task: a failure is written to the task log, and "off" runs whatever happened to the
deployment, unless an admin holds maintenance mode on (the task says so), when it stays on. An
admin's ``maintenance`` task uses the same switch; there a failure fails the task, since
switching is all the task does.
"""

from __future__ import annotations

import shlex
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from uuid import UUID

from logconfig import get_logger
from timekeeping import Clock
from wrktalk_agent.commands import CommandRunner
from wrktalk_agent.errors import TaskAbandoned, TaskFailure, TaskInterrupted

log = get_logger(__name__)


@asynccontextmanager
async def maintenance_mode(
    *,
    flag_file: str | None,
    command: str | None,
    runner: CommandRunner,
    time_limit: float,
    task_id: UUID,
    clock: Clock,
    note: Callable[[str], None],
    held: bool = False,
) -> AsyncIterator[None]:
    """Maintenance on for the body, off afterwards unless ``held`` (an admin holds it on); a
    no-op when neither is configured."""
    if not flag_file and not command:
        yield
        return
    owner = f"deployment task {task_id}"
    await _switch(True, flag_file, command, runner, time_limit, owner, clock, note)
    try:
        yield
    finally:
        if held:
            note("maintenance mode stays on: an admin switched it on")
        else:
            await _switch(False, flag_file, command, runner, time_limit, owner, clock, note)


async def switch_for_admin(
    enabled: bool,
    *,
    flag_file: str | None,
    command: str | None,
    runner: CommandRunner,
    time_limit: float,
    task_id: UUID,
    clock: Clock,
    note: Callable[[str], None],
) -> None:
    """Switch maintenance mode as an admin asked (a ``maintenance`` task).

    Raises :class:`TaskFailure` (not retryable) when this agent has no way to switch it, or
    when the flag file or the command failed, so the admin learns it was not applied.
    """
    if not flag_file and not command:
        raise TaskFailure(
            "maintenance mode is not configured on this agent: set "
            "WRKTALK_AGENT_MAINTENANCE_FLAG_FILE or WRKTALK_AGENT_MAINTENANCE_COMMAND",
            retryable=False,
        )
    owner = f"an admin (task {task_id})"
    problems = await _switch(enabled, flag_file, command, runner, time_limit, owner, clock, note)
    if problems:
        raise TaskFailure("; ".join(problems), retryable=True)


async def _switch(
    on: bool,
    flag_file: str | None,
    command: str | None,
    runner: CommandRunner,
    time_limit: float,
    owner: str,
    clock: Clock,
    note: Callable[[str], None],
) -> list[str]:
    """Switch; the problems met (each also noted), empty when everything worked."""
    state = "on" if on else "off"
    problems: list[str] = []
    if flag_file:
        path = Path(flag_file)
        try:
            _write_flag(path, f"{owner} since {clock.now().isoformat()}\n", on)
        except OSError as exc:
            problems.append(f"maintenance mode {state}: cannot write {path}: {exc.strerror}")
            note(problems[-1])
            log.warning("maintenance.flag.failed", state=state, path=str(path), error=str(exc))
    if command:
        try:
            # Switching off must happen even while the agent stops.
            await runner.run(
                shlex.split(command),
                step=f"maintenance {state}",
                time_limit=time_limit,
                interruptible=False,
            )
        except (TaskFailure, TaskInterrupted, TaskAbandoned) as exc:
            problems.append(f"maintenance mode {state}: the command failed: {exc}")
            note(problems[-1])
            log.warning("maintenance.command.failed", state=state, error=str(exc))
    note(f"maintenance mode {state}")
    return problems


def _write_flag(path: Path, content: str, on: bool) -> None:
    if on:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    else:
        path.unlink(missing_ok=True)
