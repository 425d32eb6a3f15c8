"""Maintenance mode (seed 001): a flag file and an optional command around a deployment.

A proxy such as nginx or haproxy serves a maintenance page while the flag file exists; the
command (``nginx -s reload``) makes it notice. Switching on or off never fails the task: a
failure is written to the task log, and "off" runs whatever happened to the deployment.
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
) -> AsyncIterator[None]:
    """Maintenance on for the body, off afterwards; a no-op when neither is configured."""
    if not flag_file and not command:
        yield
        return
    await _switch(True, flag_file, command, runner, time_limit, task_id, clock, note)
    try:
        yield
    finally:
        await _switch(False, flag_file, command, runner, time_limit, task_id, clock, note)


async def _switch(
    on: bool,
    flag_file: str | None,
    command: str | None,
    runner: CommandRunner,
    time_limit: float,
    task_id: UUID,
    clock: Clock,
    note: Callable[[str], None],
) -> None:
    state = "on" if on else "off"
    if flag_file:
        path = Path(flag_file)
        try:
            _write_flag(path, f"deployment task {task_id} since {clock.now().isoformat()}\n", on)
        except OSError as exc:
            note(f"maintenance mode {state}: cannot write {path}: {exc.strerror}")
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
            note(f"maintenance mode {state}: the command failed: {exc}")
            log.warning("maintenance.command.failed", state=state, error=str(exc))
    note(f"maintenance mode {state}")


def _write_flag(path: Path, content: str, on: bool) -> None:
    if on:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    else:
        path.unlink(missing_ok=True)
