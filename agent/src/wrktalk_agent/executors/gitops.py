"""GitOps delivery: render the chart and commit the manifests for Argo CD or Flux to apply.

``helm template`` renders the release (values and image tags as for Helm) into a scratch
directory; its output replaces the whole content of ``GITOPS_PATH`` in the working copy
``GITOPS_REPO``; the change is committed with a message naming the release and the task and
pushed when the working copy has the configured remote. The commit id is the result. Rolling
back renders the older version and commits that. The agent holds no cluster credentials.

The working copy belongs to the agent: lock files a killed git command left behind are removed
when the next task starts. Git credentials, when pushing needs them, belong in the working
copy's configuration or a credential helper, never on a command line; prompts are disabled so a
push cannot hang.
"""

from __future__ import annotations

import shutil
from pathlib import Path, PurePosixPath

from contracts import TaskResult, TaskResultStatus
from wrktalk_agent.commands import (
    CommandFailed,
    CommandResult,
    CommandRunner,
    child_environment,
)
from wrktalk_agent.errors import ConfigurationError, TaskFailure
from wrktalk_agent.executors.base import CheckLine, ExecutionContext, LocalRelease, RollbackTarget
from wrktalk_agent.executors.helm import helm_major_version, image_tag_arguments
from wrktalk_agent.settings import Settings

GIT_QUERY_TIMEOUT = 60.0
DEFAULT_AUTHOR_NAME = "WrkTalk Agent"
DEFAULT_AUTHOR_EMAIL = "agent@wrktalk.invalid"


class GitOpsExecutor:
    """Commits rendered manifests to a Git working copy."""

    def __init__(self, settings: Settings) -> None:
        if not settings.gitops_repo:
            raise ConfigurationError("WRKTALK_AGENT_GITOPS_REPO is required for gitops delivery")
        relative = PurePosixPath(settings.gitops_path)
        if (
            relative.is_absolute()
            or ".." in relative.parts
            or not relative.parts
            or relative.parts[0] == ".git"
        ):
            raise ConfigurationError(
                "WRKTALK_AGENT_GITOPS_PATH must be a directory inside the working copy"
            )
        self._repository = Path(settings.gitops_repo)
        self._relative = str(relative)
        self._remote = settings.gitops_remote
        self._binary = settings.helm_binary
        self._release = settings.helm_release_name
        self._namespace = settings.kube_namespace
        self._timeout = settings.command_timeout
        self._author = {
            "name": settings.gitops_author_name,
            "email": settings.gitops_author_email,
        }

    def needs_previous_files(self) -> bool:
        """Git keeps every earlier render; nothing to restore from files."""
        return False

    async def deploy(
        self,
        release: LocalRelease,
        *,
        previous: LocalRelease | None,
        context: ExecutionContext,
    ) -> TaskResult:
        """Render ``release`` and commit it."""
        message = f"Deploy {self._release} {release.version} (task {context.task_id})"
        commit_id, changed = await self._render_and_commit(release, message, context)
        return TaskResult(
            status=TaskResultStatus.SUCCESS,
            release_version=release.version,
            commit_id=commit_id,
            message=(
                f"manifests of {release.version} committed"
                if changed
                else f"manifests of {release.version} unchanged"
            ),
        )

    async def rollback(self, target: RollbackTarget, *, context: ExecutionContext) -> TaskResult:
        """Render the older version and commit it."""
        if target.release is None:
            raise TaskFailure(
                "a GitOps deployment rolls back by version, not by Helm revision",
                retryable=False,
            )
        release = target.release
        message = f"Roll back {self._release} to {release.version} (task {context.task_id})"
        commit_id, _ = await self._render_and_commit(release, message, context)
        return TaskResult(
            status=TaskResultStatus.SUCCESS,
            release_version=release.version,
            commit_id=commit_id,
            message=f"rolled back to {release.version}",
        )

    async def check(self, runner: CommandRunner) -> list[CheckLine]:
        """helm and git present, and the repository a Git working copy."""
        lines: list[CheckLine] = []
        try:
            _, text = await helm_major_version(runner, self._binary)
            lines.append(CheckLine("helm", True, f"{self._binary} {text}"))
        except TaskFailure as failure:
            lines.append(CheckLine("helm", False, failure.message))
        try:
            version = await runner.run(
                ["git", "--version"], step="git", time_limit=GIT_QUERY_TIMEOUT
            )
            lines.append(CheckLine("git", True, version.stdout.strip()))
            inside = await self._git(runner, "rev-parse", "--is-inside-work-tree", check=False)
            ok = inside.succeeded and inside.stdout.strip() == "true"
            lines.append(
                CheckLine(
                    "gitops repository",
                    ok,
                    f"{self._repository} is {'a' if ok else 'not a'} Git working copy",
                )
            )
        except CommandFailed as failure:
            lines.append(CheckLine("git", False, failure.message))
        return lines

    def working_directories(self) -> list[Path]:
        """Directories the executor writes to."""
        return [self._repository]

    async def _render_and_commit(
        self, release: LocalRelease, message: str, context: ExecutionContext
    ) -> tuple[str, bool]:
        runner = context.runner
        await self._clear_stale_locks(runner, context)
        has_remote = await self._has_remote(runner)
        branch = await self._branch(runner)
        if has_remote:
            await self._catch_up(runner, branch)
        rendered = context.scratch / "rendered"
        await runner.run(
            self.template_command(release, rendered), step="helm template", time_limit=self._timeout
        )
        self._replace_content(rendered)
        await self._git(runner, "add", "--all", "--", self._relative)
        staged = await self._git(
            runner, "diff", "--cached", "--quiet", "--", self._relative, check=False
        )
        changed = not staged.succeeded
        if changed:
            identity = await self._identity(runner)
            await self._git(
                runner, "commit", "--quiet", "-m", message, "--", self._relative, env=identity
            )
        else:
            context.note("rendered manifests are unchanged; nothing to commit")
        head = await self._git(runner, "rev-parse", "HEAD")
        commit_id = head.stdout.strip()
        context.note(f"commit {commit_id}: {message}")
        if has_remote:
            try:
                await self._git(
                    runner, "push", "--quiet", self._remote, f"HEAD:refs/heads/{branch}"
                )
            except CommandFailed as failure:
                raise TaskFailure(
                    f"committed {commit_id} but pushing to {self._remote} failed",
                    retryable=True,
                    output_tail=failure.output_tail,
                ) from None
        return commit_id, changed

    def template_command(self, release: LocalRelease, output_dir: Path) -> list[str]:
        """The exact ``helm template`` command line for ``release``."""
        command = [
            self._binary,
            "template",
            self._release,
            str(release.chart),
            "--namespace",
            self._namespace,
        ]
        if release.values is not None:
            command += ["--values", str(release.values)]
        command += image_tag_arguments(release.image_tags)
        command += ["--include-crds", "--output-dir", str(output_dir)]
        return command

    def _replace_content(self, rendered: Path) -> None:
        """Make ``GITOPS_PATH`` hold exactly the render (a template that went away goes)."""
        charts = [child for child in rendered.iterdir() if child.is_dir()]
        if len(charts) != 1:
            raise TaskFailure("helm template produced no chart directory", retryable=False)
        target = self._repository / self._relative
        if target.is_symlink() or target.is_file():
            target.unlink()
        elif target.exists():
            shutil.rmtree(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(charts[0], target)

    async def _clear_stale_locks(self, runner: CommandRunner, context: ExecutionContext) -> None:
        """Remove the lock files of a git command that was killed (an agent stopped by SIGKILL
        in the middle of ``git commit`` leaves ``index.lock``, and every later git command
        would refuse to run). The working copy belongs to the agent, which runs one git
        command at a time and none between tasks, so a lock present when a task starts is
        always stale."""
        located = await self._git(runner, "rev-parse", "--absolute-git-dir")
        git_dir = Path(located.stdout.strip())
        candidates = [git_dir / "index.lock", git_dir / "HEAD.lock"]
        candidates += sorted((git_dir / "refs" / "heads").rglob("*.lock"))
        for lock in candidates:
            if lock.is_file():
                lock.unlink(missing_ok=True)
                context.note(f"removed {lock} left behind by an interrupted git command")

    async def _has_remote(self, runner: CommandRunner) -> bool:
        remotes = await self._git(runner, "remote")
        return self._remote in remotes.stdout.split()

    async def _branch(self, runner: CommandRunner) -> str:
        result = await self._git(runner, "symbolic-ref", "--short", "HEAD", check=False)
        if not result.succeeded or not result.stdout.strip():
            raise TaskFailure(
                f"{self._repository} is not on a branch (detached HEAD)", retryable=False
            )
        return result.stdout.strip()

    async def _catch_up(self, runner: CommandRunner, branch: str) -> None:
        """Fast-forward to the remote branch, so the push that follows is accepted."""
        try:
            await self._git(runner, "fetch", "--quiet", self._remote)
        except CommandFailed as failure:
            raise TaskFailure(
                f"fetching from {self._remote} failed",
                retryable=True,
                output_tail=failure.output_tail,
            ) from None
        remote_ref = f"refs/remotes/{self._remote}/{branch}"
        exists = await self._git(
            runner, "rev-parse", "--verify", "--quiet", remote_ref, check=False
        )
        if not exists.succeeded:
            return
        try:
            await self._git(runner, "merge", "--ff-only", "--quiet", remote_ref)
        except CommandFailed as failure:
            raise TaskFailure(
                f"the working copy has diverged from {self._remote}/{branch}",
                retryable=False,
                output_tail=failure.output_tail,
            ) from None

    async def _identity(self, runner: CommandRunner) -> dict[str, str]:
        """Author and committer: the settings, else the working copy's, else a default."""
        identity: dict[str, str] = {}
        for field, fallback in (("name", DEFAULT_AUTHOR_NAME), ("email", DEFAULT_AUTHOR_EMAIL)):
            value = self._author[field]
            if value is None:
                configured = await self._git(runner, "config", f"user.{field}", check=False)
                value = configured.stdout.strip() or fallback
            identity[f"GIT_AUTHOR_{field.upper()}"] = value
            identity[f"GIT_COMMITTER_{field.upper()}"] = value
        return identity

    async def _git(
        self,
        runner: CommandRunner,
        *arguments: str,
        check: bool = True,
        env: dict[str, str] | None = None,
    ) -> CommandResult:
        return await runner.run(
            ["git", "-C", str(self._repository), *arguments],
            step=f"git {arguments[0]}",
            time_limit=self._timeout,
            env=child_environment({"GIT_TERMINAL_PROMPT": "0", **(env or {})}),
            check=check,
        )
