"""What every executor offers: ``deploy`` and ``rollback`` of verified local files."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from uuid import UUID

from contracts import TaskResult, Version
from wrktalk_agent.commands import CommandRunner


@dataclass(frozen=True)
class LocalRelease:
    """A release whose files were downloaded and verified: ready to run."""

    version: Version
    chart: Path
    """The Helm chart (.tgz) or the Compose bundle (.tar.gz)."""
    image_tags: dict[str, str] = field(default_factory=dict)
    values: Path | None = None
    """Helm values.yaml (kubernetes, gitops)."""
    env: Path | None = None
    """Compose .env with the essential configuration (docker)."""


@dataclass(frozen=True)
class RollbackTarget:
    """A rollback by Helm revision, by re-deploying a release, or (neither) to Helm's previous
    revision."""

    revision: int | None = None
    release: LocalRelease | None = None
    to_previous: bool = False
    """The admin asked for the previous version without naming one."""


@dataclass
class ExecutionContext:
    """What an executor gets for one task: the task, a runner wired to the task log, a
    private scratch directory and a way to tell the task log what it is doing."""

    task_id: UUID
    runner: CommandRunner
    scratch: Path
    note: Callable[[str], None]
    previous_version: Version | None = None
    """The version running before the task, when the task names it."""


@dataclass(frozen=True)
class CheckLine:
    """One line of ``wrktalk-agent check``."""

    name: str
    ok: bool
    detail: str


class Executor(Protocol):
    """Deploys and rolls back; raises :class:`~wrktalk_agent.errors.TaskFailure` on failure."""

    async def deploy(
        self,
        release: LocalRelease,
        *,
        previous: LocalRelease | None,
        context: ExecutionContext,
    ) -> TaskResult:
        """Run ``release``; ``previous`` is what runs now, for executors that restore it."""
        ...

    async def rollback(self, target: RollbackTarget, *, context: ExecutionContext) -> TaskResult:
        """Go back to an earlier revision or version."""
        ...

    async def check(self, runner: CommandRunner) -> list[CheckLine]:
        """The executor's binaries, their versions and its working directory."""
        ...

    def working_directories(self) -> list[Path]:
        """Directories the executor writes to (``check`` tests them)."""
        ...

    def needs_previous_files(self) -> bool:
        """Whether ``deploy`` may use the previous release's files (they are then downloaded
        and verified with the rest, before anything runs)."""
        ...
