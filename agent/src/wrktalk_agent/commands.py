"""The one way the agent runs a command.

Every helm, docker, git and maintenance command goes through :class:`CommandRunner`, which

- streams each output line to the task log as it is produced (stdout may be captured instead,
  for commands such as ``helm upgrade --output json`` whose output holds the rendered values);
- keeps the tail of stderr for the failure report;
- enforces a timeout and, on timeout, kills the whole process group (helm and docker start
  children of their own);
- honours the task's :class:`~wrktalk_agent.control.StopControl`: after SIGTERM the running
  command gets the grace period, a later one does not start; when the backend abandons the
  task the command is killed at once;
- refuses a command line that contains a secret, and keeps the agent's own settings
  (``WRKTALK_AGENT_*``, the agent secret among them) out of the child's environment.

Output is decoded as UTF-8 with bad bytes replaced, and a NUL character becomes U+FFFD too:
the backend refuses text with NUL (its database cannot store it).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import os
import signal
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from contracts import LogStream
from logconfig import get_logger
from wrktalk_agent.control import StopControl
from wrktalk_agent.errors import TaskAbandoned, TaskFailure, TaskInterrupted
from wrktalk_agent.output import LineSplitter, decode_output

log = get_logger(__name__)

LineSink = Callable[[LogStream, str], None]
"""Receives each output line (without its line break) and the stream it came from."""

AGENT_ENV_PREFIX = "WRKTALK_AGENT_"
STDERR_TAIL_LINES = 40
CAPTURE_LIMIT_BYTES = 64 * 1024 * 1024
KILL_WAIT_SECONDS = 5.0
READ_CHUNK_BYTES = 65_536
REDACTED = "[redacted]"


class CommandEnd(enum.StrEnum):
    """How a supervised command ended."""

    EXITED = "exited"
    """By itself, whatever its exit code."""
    TIMEOUT = "timeout"
    """Killed when its time limit ran out."""
    GRACE = "grace"
    """Killed when the agent's shutdown grace period ran out."""
    ABANDONED = "abandoned"
    """Killed because the backend gave the task up."""


class CommandFailed(TaskFailure):
    """A command exited non-zero (or could not start, or timed out)."""

    def __init__(
        self, message: str, *, result: CommandResult | None, retryable: bool = False
    ) -> None:
        super().__init__(
            message,
            retryable=retryable,
            output_tail=result.stderr_tail if result is not None else (),
        )
        self.command_result = result


class CommandTimedOut(CommandFailed):
    """A command ran past its timeout and its process group was killed."""


@dataclass
class CommandResult:
    """What a finished command left: exit code, captured stdout, the tail of stderr."""

    argv: tuple[str, ...]
    exit_code: int
    duration: float
    stdout: str = ""
    """All of stdout when captured, otherwise its last lines."""
    stderr_tail: list[str] = field(default_factory=list)

    @property
    def succeeded(self) -> bool:
        """Whether the command exited 0."""
        return self.exit_code == 0


def child_environment(
    extra: Mapping[str, str] | None = None, *, drop: Iterable[str] = ()
) -> dict[str, str]:
    """The environment a command runs with: the agent's own minus its ``WRKTALK_AGENT_*``
    settings and the names in ``drop``, plus ``extra``."""
    dropped = set(drop)
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(AGENT_ENV_PREFIX) and name not in dropped
    }
    environment.update(extra or {})
    return environment


class CommandRunner:
    """Runs commands for one task (or for ``check``), as described in the module docstring."""

    def __init__(
        self,
        *,
        on_line: LineSink | None = None,
        control: StopControl | None = None,
        secrets: Sequence[str] = (),
    ) -> None:
        self._on_line = on_line
        self._control = control
        self._secrets = [secret for secret in secrets if secret]

    async def run(
        self,
        argv: Sequence[str],
        *,
        step: str,
        time_limit: float,
        cwd: Path | str | None = None,
        env: Mapping[str, str] | None = None,
        capture_stdout: bool = False,
        check: bool = True,
        interruptible: bool = True,
        retryable: bool = False,
    ) -> CommandResult:
        """Run ``argv`` to its end and return what it left.

        ``step`` names the command in messages ("helm upgrade"); ``time_limit`` is the
        timeout in seconds. ``env`` is the complete
        environment (default: :func:`child_environment`). With ``capture_stdout`` stdout is kept
        and returned instead of streamed. ``check`` raises :class:`CommandFailed` (with
        ``retryable``) on a non-zero exit. ``interruptible=False`` is for steps that must run
        even while the agent stops or the backend gives the task up (switching maintenance
        mode off, restoring a version); only the timeout ends them.
        """
        command = tuple(str(part) for part in argv)
        self._refuse_secrets(command)
        self._raise_if_stopped(step, interruptible=interruptible)
        self._emit(LogStream.AGENT, "$ " + " ".join(command))
        log.info("command.started", step=step, argv=list(command))
        started = time.monotonic()
        process = await self._start(command, step=step, cwd=cwd, env=env)
        stderr_tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
        stdout_tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
        captured = bytearray()
        assert process.stdout is not None
        assert process.stderr is not None
        readers = [
            asyncio.create_task(
                self._pump(process.stdout, LogStream.STDOUT, stdout_tail, captured, capture_stdout)
            ),
            asyncio.create_task(
                self._pump(process.stderr, LogStream.STDERR, stderr_tail, None, False)
            ),
        ]
        try:
            outcome = await self._supervise(
                process, time_limit=time_limit, interruptible=interruptible
            )
        finally:
            await self._drain(process, readers)
        result = CommandResult(
            argv=command,
            exit_code=process.returncode if process.returncode is not None else -1,
            duration=time.monotonic() - started,
            stdout=(decode_output(captured) if capture_stdout else "\n".join(stdout_tail)),
            stderr_tail=list(stderr_tail),
        )
        self._raise_for_outcome(
            step, outcome, result, time_limit=time_limit, check=check, retryable=retryable
        )
        return result

    async def _start(
        self,
        command: tuple[str, ...],
        *,
        step: str,
        cwd: Path | str | None,
        env: Mapping[str, str] | None,
    ) -> asyncio.subprocess.Process:
        """Start ``command`` in a session (process group) of its own, for killing it whole."""
        try:
            return await asyncio.create_subprocess_exec(
                *command,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                cwd=cwd,
                env=dict(env) if env is not None else child_environment(),
                start_new_session=True,
            )
        except OSError as exc:
            raise CommandFailed(
                f"{step}: cannot run {command[0]}: {exc.strerror or exc}", result=None
            ) from exc

    def _raise_for_outcome(
        self,
        step: str,
        outcome: CommandEnd,
        result: CommandResult,
        *,
        time_limit: float,
        check: bool,
        retryable: bool,
    ) -> None:
        """Log how the command ended; raise unless it ended as the caller wants."""
        log.info(
            "command.finished",
            step=step,
            exit_code=result.exit_code,
            outcome=str(outcome),
            duration=round(result.duration, 3),
        )
        if outcome is CommandEnd.ABANDONED:
            raise TaskAbandoned(f"{step} killed: the backend gave the task up")
        if outcome is CommandEnd.GRACE:
            self._emit(LogStream.AGENT, f"{step} killed: the shutdown grace period ran out")
            raise TaskInterrupted(step)
        if outcome is CommandEnd.TIMEOUT:
            raise CommandTimedOut(
                f"{step} timed out after {time_limit:g} s and was killed",
                result=result,
                retryable=True,
            )
        if check and not result.succeeded:
            raise CommandFailed(
                f"{step} failed with exit code {result.exit_code}",
                result=result,
                retryable=retryable,
            )

    def _refuse_secrets(self, command: tuple[str, ...]) -> None:
        for part in command:
            if any(secret in part for secret in self._secrets):
                # Command lines are visible to every user of the machine (ps, /proc).
                raise ValueError("refusing to put a secret on a command line")

    def _raise_if_stopped(self, step: str, *, interruptible: bool) -> None:
        if self._control is None or not interruptible:
            return
        if self._control.abandoned.is_set():
            raise TaskAbandoned(f"{step} not started: the backend gave the task up")
        if self._control.stopping.is_set():
            raise TaskInterrupted(step, started=False)

    def _emit(self, stream: LogStream, line: str) -> None:
        if self._on_line is None:
            return
        for secret in self._secrets:
            line = line.replace(secret, REDACTED)
        self._on_line(stream, line)

    async def _pump(
        self,
        source: asyncio.StreamReader,
        stream: LogStream,
        tail: deque[str],
        captured: bytearray | None,
        capture: bool,
    ) -> None:
        splitter = LineSplitter()
        while True:
            chunk = await source.read(READ_CHUNK_BYTES)
            if not chunk:
                break
            if capture and captured is not None:
                if len(captured) + len(chunk) <= CAPTURE_LIMIT_BYTES:
                    captured.extend(chunk)
                continue
            for line in splitter.feed(chunk):
                tail.append(line)
                self._emit(stream, line)
        for line in splitter.finish():
            tail.append(line)
            self._emit(stream, line)

    async def _supervise(
        self, process: asyncio.subprocess.Process, *, time_limit: float, interruptible: bool
    ) -> CommandEnd:
        """Wait for the process; kill its group on timeout, grace expiry or abandonment."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + time_limit
        grace_deadline: float | None = None
        exited = asyncio.ensure_future(process.wait())
        watchers: dict[str, asyncio.Future[Any]] = {}
        if self._control is not None and interruptible:
            watchers["abandoned"] = asyncio.ensure_future(self._control.abandoned.wait())
            watchers["stopping"] = asyncio.ensure_future(self._control.stopping.wait())
        try:
            while not exited.done():
                limit = deadline if grace_deadline is None else min(deadline, grace_deadline)
                remaining = limit - loop.time()
                if remaining <= 0:
                    await self._kill(process)
                    if grace_deadline is not None and limit < deadline:
                        return CommandEnd.GRACE
                    return CommandEnd.TIMEOUT
                await asyncio.wait(
                    {exited, *watchers.values()},
                    timeout=remaining,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                abandoned = watchers.get("abandoned")
                if abandoned is not None and abandoned.done() and not exited.done():
                    await self._kill(process)
                    return CommandEnd.ABANDONED
                stopping = watchers.get("stopping")
                if stopping is not None and stopping.done() and grace_deadline is None:
                    assert self._control is not None
                    grace_deadline = loop.time() + self._control.grace_period
                    self._emit(
                        LogStream.AGENT,
                        "agent asked to stop: letting the running command finish "
                        f"(up to {self._control.grace_period:g} s)",
                    )
                    del watchers["stopping"]
            return CommandEnd.EXITED
        finally:
            for watcher in watchers.values():
                watcher.cancel()
            if not exited.done():
                exited.cancel()

    @staticmethod
    async def _kill(process: asyncio.subprocess.Process) -> None:
        """SIGTERM the process group, then SIGKILL it if it lingers."""
        for sent in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, sent)
            try:
                await asyncio.wait_for(process.wait(), timeout=KILL_WAIT_SECONDS)
                return
            except TimeoutError:
                continue

    async def _drain(
        self, process: asyncio.subprocess.Process, readers: list[asyncio.Task[None]]
    ) -> None:
        """Let the readers finish; a grandchild that keeps the pipes open is killed with its
        group so the task does not hang on it."""
        if process.returncode is None:
            await self._kill(process)
        _, pending = await asyncio.wait(readers, timeout=KILL_WAIT_SECONDS)
        if pending:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            _, pending = await asyncio.wait(pending, timeout=KILL_WAIT_SECONDS)
            for reader in pending:
                reader.cancel()
