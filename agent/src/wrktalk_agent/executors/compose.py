"""Docker Compose delivery.

Each deployment extracts its bundle safely into a fresh directory under
``COMPOSE_WORKING_DIR/releases/``, writes ``.env`` (mode 0600: the bundle's own defaults, the
essential configuration, and ``<SERVICE>_IMAGE_TAG`` per image tag), then runs ``pull`` (a
failure there changes nothing), ``up -d --remove-orphans`` (``--wait`` on Compose v2) and
inspects every container: one that exited, restarts or is unhealthy fails the deployment.
Compose has no atomic mode, so the agent adds one: when the task names the version running
now, a failed deployment re-deploys it and the result says ``rolledBack``.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

from contracts import TaskResult, TaskResultStatus
from logconfig import get_logger
from wrktalk_agent.commands import CommandFailed, CommandRunner, child_environment
from wrktalk_agent.downloads import wipe_tree
from wrktalk_agent.errors import TaskFailure
from wrktalk_agent.executors.base import CheckLine, ExecutionContext, LocalRelease, RollbackTarget
from wrktalk_agent.executors.compose_releases import (
    RELEASES_DIRECTORY,
    ComposeProject,
    prepare_project,
    prune_releases,
)
from wrktalk_agent.settings import Settings

log = get_logger(__name__)

VERSION_QUERY_TIMEOUT = 30.0
INSPECT_TIMEOUT = 60.0
INSPECT_POLL_SECONDS = 0.5


@dataclass(frozen=True)
class ComposeCommand:
    """How Compose is invoked here: ``docker compose`` (v2) or ``docker-compose`` (v1)."""

    prefix: tuple[str, ...]
    major_version: int
    version_text: str


async def detect_compose(runner: CommandRunner) -> ComposeCommand | None:
    """``docker compose`` when the v2 plugin answers, else ``docker-compose`` (v1), else None."""
    candidates = ((("docker", "compose"), 2), (("docker-compose",), 1))
    for prefix, major in candidates:
        try:
            result = await runner.run(
                [*prefix, "version", "--short"],
                step="compose version",
                time_limit=VERSION_QUERY_TIMEOUT,
                check=False,
            )
        except CommandFailed:
            continue
        text = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
        if result.succeeded and text:
            version_major = _major(text, default=major)
            return ComposeCommand(prefix, version_major, text)
    return None


def _major(text: str, *, default: int) -> int:
    digits = text.lstrip("v").split(".", 1)[0]
    return int(digits) if digits.isdigit() else default


class ComposeExecutor:
    """Runs Docker Compose on the host whose Docker socket the agent reaches."""

    def __init__(self, settings: Settings) -> None:
        self._project_name = settings.compose_project_name
        self._working_dir = Path(settings.compose_working_dir)
        self._command_timeout = settings.command_timeout
        self._wait_timeout = settings.compose_wait_timeout
        self._settle_period = settings.compose_settle_period
        self._redeploy_previous = settings.compose_redeploy_previous
        self._max_files = settings.bundle_max_files
        self._max_bytes = settings.bundle_max_bytes
        self._detected: ComposeCommand | None = None

    def needs_previous_files(self) -> bool:
        """The previous release is re-deployed when a deployment fails (unless that is off)."""
        return self._redeploy_previous

    async def deploy(
        self,
        release: LocalRelease,
        *,
        previous: LocalRelease | None,
        context: ExecutionContext,
    ) -> TaskResult:
        """Deploy ``release``; on failure after ``up`` re-deploy ``previous`` when given."""
        # The bundle is checked and extracted before any command runs.
        project = await asyncio.to_thread(self._prepare, release, context.task_id)
        try:
            compose = await self._compose(context.runner)
        except BaseException:
            wipe_tree(project.root)
            raise
        context.note(
            f"{' '.join(compose.prefix)} {compose.version_text}: deploying {release.version} "
            f"from {project.directory}"
        )
        try:
            await self._pull(compose, project, context)
        except BaseException:
            # Nothing ran from this directory: it goes, and the running release stays as it is.
            wipe_tree(project.root)
            raise
        try:
            await self._up(compose, project, context)
        except TaskFailure as failure:
            if not self._redeploy_previous:
                raise TaskFailure(
                    f"{failure.message}; the previous version was not re-deployed "
                    "(WRKTALK_AGENT_COMPOSE_REDEPLOY_PREVIOUS is off): manual intervention "
                    "needed, check the project's containers and roll back",
                    retryable=False,
                    output_tail=failure.output_tail,
                ) from None
            if previous is None:
                raise
            raise await self._restore(compose, previous, failure, context) from None
        self._prune(keep=project.root)
        return TaskResult(
            status=TaskResultStatus.SUCCESS,
            release_version=release.version,
            message=f"compose project {self._project_name} runs {release.version}",
        )

    async def rollback(self, target: RollbackTarget, *, context: ExecutionContext) -> TaskResult:
        """Compose rolls back by re-deploying an earlier version's bundle and configuration."""
        if target.release is None:
            raise TaskFailure(
                "a Compose deployment rolls back by version, not by Helm revision",
                retryable=False,
            )
        return await self.deploy(target.release, previous=None, context=context)

    async def check(self, runner: CommandRunner) -> list[CheckLine]:
        """docker and Compose present (with versions), the engine answering, the directory."""
        lines: list[CheckLine] = []
        try:
            engine = await runner.run(
                ["docker", "version", "--format", "{{.Server.Version}}"],
                step="docker version",
                time_limit=VERSION_QUERY_TIMEOUT,
            )
            lines.append(CheckLine("docker", True, f"engine {engine.stdout.strip()}"))
        except CommandFailed as failure:
            detail = failure.output_tail[-1] if failure.output_tail else failure.message
            lines.append(CheckLine("docker", False, detail))
        compose = await detect_compose(runner)
        if compose is None:
            lines.append(CheckLine("compose", False, "neither docker compose nor docker-compose"))
        else:
            lines.append(
                CheckLine("compose", True, f"{' '.join(compose.prefix)} {compose.version_text}")
            )
        return lines

    def working_directories(self) -> list[Path]:
        """Directories the executor writes to."""
        return [self._working_dir]

    async def _compose(self, runner: CommandRunner) -> ComposeCommand:
        # Compose v1 takes seconds to start; what is installed does not change under a
        # running agent, so it is asked once.
        if self._detected is not None:
            return self._detected
        compose = await detect_compose(runner)
        if compose is None:
            raise TaskFailure(
                "neither docker compose (v2) nor docker-compose (v1) is installed",
                retryable=False,
            )
        self._detected = compose
        return compose

    def _prepare(self, release: LocalRelease, task_id: UUID) -> ComposeProject:
        return prepare_project(
            release,
            releases=self._working_dir / RELEASES_DIRECTORY,
            name=f"{release.version}-{task_id.hex[:12]}",
            max_files=self._max_files,
            max_bytes=self._max_bytes,
        )

    def _prune(self, *, keep: Path) -> None:
        prune_releases(self._working_dir / RELEASES_DIRECTORY, keep=keep)

    def _base(self, compose: ComposeCommand, project: ComposeProject) -> list[str]:
        return [
            *compose.prefix,
            "--project-name",
            self._project_name,
            "--file",
            str(project.compose_file),
        ]

    def _environment(self, project: ComposeProject) -> dict[str, str]:
        # The shell environment outranks .env in Compose: keep the agent's own variables from
        # overriding what the release says.
        return child_environment(drop=project.env_names)

    async def _pull(
        self, compose: ComposeCommand, project: ComposeProject, context: ExecutionContext
    ) -> None:
        try:
            await context.runner.run(
                [*self._base(compose, project), "pull"],
                step="compose pull",
                time_limit=self._command_timeout,
                cwd=project.directory,
                env=self._environment(project),
            )
        except CommandFailed as failure:
            raise TaskFailure(
                f"pulling the images of {project.release.version} failed; nothing was changed",
                retryable=False,
                output_tail=failure.output_tail,
            ) from None

    async def _up(
        self,
        compose: ComposeCommand,
        project: ComposeProject,
        context: ExecutionContext,
        *,
        interruptible: bool = True,
    ) -> None:
        command = [*self._base(compose, project), "up", "-d", "--remove-orphans"]
        if compose.major_version >= 2:
            command.append("--wait")
        try:
            await context.runner.run(
                command,
                step="compose up",
                time_limit=self._command_timeout,
                cwd=project.directory,
                env=self._environment(project),
                interruptible=interruptible,
                retryable=True,
            )
        except CommandFailed as failure:
            raise TaskFailure(
                f"docker compose up of {project.release.version} failed",
                retryable=failure.retryable,
                output_tail=failure.output_tail,
            ) from None
        await self._await_healthy(compose, project, context, interruptible=interruptible)

    async def _await_healthy(
        self,
        compose: ComposeCommand,
        project: ComposeProject,
        context: ExecutionContext,
        *,
        interruptible: bool,
    ) -> None:
        """Every container running (and healthy where it has a healthcheck), and still so
        after the settle period, which catches a container that dies right after starting."""
        deadline = time.monotonic() + self._wait_timeout
        settled_since: float | None = None
        while True:
            states = await self._container_states(context, interruptible)
            problems = [problem for state in states if (problem := _problem(state))]
            fatal = [text for kind, text in problems if kind == "fatal"]
            if fatal:
                raise TaskFailure(
                    f"{project.release.version} did not come up: " + "; ".join(fatal),
                    retryable=False,
                )
            now = time.monotonic()
            if not problems and states:
                settled_since = settled_since if settled_since is not None else now
                if now - settled_since >= self._settle_period:
                    context.note(
                        f"{len(states)} container(s) of {project.release.version} are up: "
                        + ", ".join(sorted(_service(state) for state in states))
                    )
                    return
            else:
                settled_since = None
            if now >= deadline:
                waiting = "; ".join(text for _, text in problems) or "no containers"
                raise TaskFailure(
                    f"{project.release.version} not ready after {self._wait_timeout:g} s: "
                    f"{waiting}",
                    retryable=False,
                )
            await asyncio.sleep(INSPECT_POLL_SECONDS)

    async def _container_states(
        self, context: ExecutionContext, interruptible: bool
    ) -> list[dict[str, Any]]:
        # The labels Compose v1 and v2 both set; docker answers far faster than compose ps.
        listed = await context.runner.run(
            [
                "docker",
                "ps",
                "--all",
                "--quiet",
                "--no-trunc",
                "--filter",
                f"label=com.docker.compose.project={self._project_name}",
                "--filter",
                "label=com.docker.compose.oneoff=False",
            ],
            step="docker ps",
            time_limit=INSPECT_TIMEOUT,
            interruptible=interruptible,
        )
        identifiers = [line.strip() for line in listed.stdout.splitlines() if line.strip()]
        if not identifiers:
            return []
        inspected = await context.runner.run(
            ["docker", "inspect", *identifiers],
            step="docker inspect",
            time_limit=INSPECT_TIMEOUT,
            capture_stdout=True,
            interruptible=interruptible,
        )
        document = json.loads(inspected.stdout or "[]")
        return [entry for entry in document if isinstance(entry, dict)]

    async def _restore(
        self,
        compose: ComposeCommand,
        previous: LocalRelease,
        failure: TaskFailure,
        context: ExecutionContext,
    ) -> TaskFailure:
        """Re-deploy the version that ran before; say honestly how that went."""
        context.note(f"deployment failed ({failure.message}); re-deploying {previous.version}")
        try:
            project = await asyncio.to_thread(self._prepare, previous, context.task_id)
            # No separate pull: its images are most likely still here, and up pulls what is
            # missing. Restoring runs even while the agent stops: half a deployment is worse.
            await self._up(compose, project, context, interruptible=False)
        except TaskFailure as restore_failure:
            return TaskFailure(
                f"{failure.message}; re-deploying {previous.version} failed too: "
                f"{restore_failure.message}",
                retryable=False,
                output_tail=failure.output_tail + restore_failure.output_tail,
                result=TaskResult(
                    status=TaskResultStatus.FAILED,
                    message=f"re-deploying {previous.version} failed",
                ),
            )
        self._prune(keep=project.root)
        return TaskFailure(
            f"{failure.message}; {previous.version} was re-deployed",
            retryable=False,
            output_tail=failure.output_tail,
            result=TaskResult(
                status=TaskResultStatus.ROLLED_BACK,
                release_version=previous.version,
                rolled_back_to=previous.version,
                message=f"deployment failed; {previous.version} re-deployed",
            ),
        )


def _service(state: dict[str, Any]) -> str:
    labels = (state.get("Config") or {}).get("Labels") or {}
    return str(labels.get("com.docker.compose.service") or state.get("Name", "?")).lstrip("/")


def _problem(state: dict[str, Any]) -> tuple[str, str] | None:
    """None when the container is fine; ("fatal", why) or ("waiting", why) otherwise."""
    service = _service(state)
    status = state.get("State") or {}
    health = (status.get("Health") or {}).get("Status")
    if status.get("Restarting"):
        return "fatal", f"{service} keeps restarting (exit code {status.get('ExitCode')})"
    if status.get("Status") in ("exited", "dead"):
        return "fatal", f"{service} exited with code {status.get('ExitCode')}"
    if health == "unhealthy":
        return "fatal", f"{service} is unhealthy"
    if status.get("Status") != "running":
        return "waiting", f"{service} is {status.get('Status')}"
    if health not in (None, "healthy"):
        return "waiting", f"{service} is {health}"
    return None
