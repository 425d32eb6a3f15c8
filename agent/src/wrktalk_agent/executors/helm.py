"""Kubernetes delivery with Helm.

Deploy: ``helm upgrade --install RELEASE CHART --namespace NS --values values.yaml
--set-string <service>.image.tag=<tag>… --wait --timeout T --output json`` plus ``--atomic``
(Helm 3) or ``--rollback-on-failure`` (Helm 4), so a failed upgrade is rolled back by Helm
itself. Its JSON output (which holds the rendered values, so it is captured, never logged)
gives the revision; ``helm history`` does when it cannot. Rollback: ``helm rollback RELEASE
REVISION --wait``, or by version an upgrade with that version's chart and values.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from contracts import (
    MAX_APP_VERSION_LENGTH,
    TaskResult,
    TaskResultStatus,
    Version,
    parse_version,
)
from logconfig import get_logger
from wrktalk_agent.commands import CommandFailed, CommandRunner
from wrktalk_agent.errors import TaskFailure
from wrktalk_agent.executors.base import CheckLine, ExecutionContext, LocalRelease, RollbackTarget
from wrktalk_agent.settings import Settings

log = get_logger(__name__)

VERSION_QUERY_TIMEOUT = 30.0
HISTORY_TIMEOUT = 60.0
HELM_GRACE_SECONDS = 60.0
"""How much longer than its own --timeout helm may run before the agent kills it."""

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|s)")
_DURATION_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
_TRANSIENT_MARKERS = (
    "timed out",
    "context deadline exceeded",
    "cluster unreachable",
    "connection refused",
    "another operation",
    "i/o timeout",
    "tls handshake timeout",
)
_CHART_VERSION = re.compile(r"-(\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]*)?)$")


def parse_go_duration(text: str) -> float:
    """Seconds in a Go duration such as ``10m`` or ``1h30m``."""
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        raise ValueError(f"{text!r} is not a duration such as 10m or 1h30m")
    return sum(float(number) * _DURATION_UNITS[unit] for number, unit in parts)


def image_tag_arguments(image_tags: Mapping[str, str]) -> list[str]:
    """``--set-string <service>.image.tag=<tag>`` per service, in service order.

    ``--set-string`` because a tag such as ``1e10`` or ``0123`` is a string, not a number.
    """
    arguments: list[str] = []
    for service in sorted(image_tags):
        arguments += ["--set-string", f"{service}.image.tag={image_tags[service]}"]
    return arguments


async def helm_major_version(runner: CommandRunner, binary: str) -> tuple[int, str]:
    """Helm's major version and its full version text (``helm version --template``)."""
    result = await runner.run(
        [binary, "version", "--template", "{{.Version}}"],
        step="helm version",
        time_limit=VERSION_QUERY_TIMEOUT,
    )
    text = result.stdout.strip()
    match = re.match(r"v?(\d+)\.", text)
    if match is None:
        raise TaskFailure(f"cannot read helm's version from {text!r}", retryable=False)
    return int(match.group(1)), text


def chart_version(chart: str) -> Version | None:
    """The version in a history entry's chart name (``wrktalk-2.3.0`` gives 2.3.0)."""
    match = _CHART_VERSION.search(chart)
    if match is None:
        return None
    try:
        return parse_version(match.group(1))
    except ValueError:
        return None


class HelmExecutor:
    """Runs Helm against the cluster the agent's kubeconfig or ServiceAccount reaches."""

    def __init__(self, settings: Settings) -> None:
        self._binary = settings.helm_binary
        self._release = settings.helm_release_name
        self._namespace = settings.kube_namespace
        self._timeout = settings.helm_timeout
        self._command_timeout = parse_go_duration(settings.helm_timeout) + HELM_GRACE_SECONDS
        self._dry_run = settings.helm_dry_run

    def needs_previous_files(self) -> bool:
        """Helm restores the previous revision itself."""
        return False

    def working_directories(self) -> list[Path]:
        """Helm writes only to the task's private directory."""
        return []

    def upgrade_command(self, release: LocalRelease, *, major_version: int) -> list[str]:
        """The exact ``helm upgrade`` command line for ``release``."""
        command = [
            self._binary,
            "upgrade",
            "--install",
            self._release,
            str(release.chart),
            "--namespace",
            self._namespace,
        ]
        if release.values is not None:
            command += ["--values", str(release.values)]
        command += image_tag_arguments(release.image_tags)
        command += ["--wait", "--timeout", self._timeout, "--output", "json"]
        command.append("--atomic" if major_version < 4 else "--rollback-on-failure")
        if self._dry_run:
            command.append("--dry-run=client")
        return command

    def rollback_command(self, revision: int | None) -> list[str]:
        """The exact ``helm rollback`` command line; without a revision Helm goes back to the
        previous one."""
        return [
            self._binary,
            "rollback",
            self._release,
            *([str(revision)] if revision is not None else []),
            "--namespace",
            self._namespace,
            "--wait",
            "--timeout",
            self._timeout,
        ]

    def history_command(self) -> list[str]:
        """``helm history`` of the release's latest revision, as JSON."""
        return [
            self._binary,
            "history",
            self._release,
            "--namespace",
            self._namespace,
            "--max",
            "1",
            "--output",
            "json",
        ]

    async def deploy(
        self,
        release: LocalRelease,
        *,
        previous: LocalRelease | None,
        context: ExecutionContext,
    ) -> TaskResult:
        """``helm upgrade --install`` with Helm's own rollback on failure."""
        major, version_text = await helm_major_version(context.runner, self._binary)
        context.note(f"helm {version_text}: upgrading {self._release} to {release.version}")
        try:
            result = await context.runner.run(
                self.upgrade_command(release, major_version=major),
                step="helm upgrade",
                time_limit=self._command_timeout,
                capture_stdout=True,
            )
        except CommandFailed as failure:
            raise self._upgrade_failure(
                failure, release=release, previous_version=context.previous_version
            ) from None
        revision = _revision_from_release_json(result.stdout)
        app_version = _app_version_from_release_json(result.stdout)
        if revision is None:
            revision, _ = await self._latest_revision(context)
        return TaskResult(
            status=TaskResultStatus.SUCCESS,
            release_version=release.version,
            helm_revision=revision,
            app_version=app_version,
            message=f"helm upgrade of {self._release} to {release.version} succeeded",
        )

    async def rollback(self, target: RollbackTarget, *, context: ExecutionContext) -> TaskResult:
        """``helm rollback`` to a revision or to the previous one, or an upgrade with an older
        version's files."""
        if target.release is not None:
            return await self.deploy(target.release, previous=None, context=context)
        where = (
            f"revision {target.revision}"
            if target.revision is not None
            else "the previous revision"
        )
        context.note(f"rolling {self._release} back to {where}")
        try:
            await context.runner.run(
                self.rollback_command(target.revision),
                step="helm rollback",
                time_limit=self._command_timeout,
            )
        except CommandFailed as failure:
            raise TaskFailure(
                f"helm rollback to {where} failed",
                retryable=_looks_transient(failure.output_tail),
                output_tail=failure.output_tail,
            ) from None
        revision, version = await self._latest_revision(context)
        return TaskResult(
            status=TaskResultStatus.SUCCESS,
            release_version=version,
            helm_revision=revision,
            message=f"rolled {self._release} back to {where}",
        )

    async def check(self, runner: CommandRunner) -> list[CheckLine]:
        """helm present, and its version."""
        try:
            _, text = await helm_major_version(runner, self._binary)
        except TaskFailure as failure:
            return [CheckLine("helm", False, failure.message)]
        return [CheckLine("helm", True, f"{self._binary} {text}")]

    async def _latest_revision(
        self, context: ExecutionContext
    ) -> tuple[int | None, Version | None]:
        try:
            result = await context.runner.run(
                self.history_command(),
                step="helm history",
                time_limit=HISTORY_TIMEOUT,
                capture_stdout=True,
                interruptible=False,
            )
            entries: Any = json.loads(result.stdout or "[]")
        except (CommandFailed, ValueError) as exc:
            log.warning("helm.history.unreadable", error=str(exc))
            return None, None
        if not isinstance(entries, list) or not entries:
            return None, None
        latest = max(entries, key=lambda entry: int(entry.get("revision", 0)))
        revision = int(latest.get("revision", 0)) or None
        return revision, chart_version(str(latest.get("chart", "")))

    def _upgrade_failure(
        self, failure: CommandFailed, *, release: LocalRelease, previous_version: Version | None
    ) -> TaskFailure:
        tail = failure.output_tail
        text = "\n".join(tail).lower()
        hint = NOT_READY_HINT if any(marker in text for marker in _NOT_READY_MARKERS) else ""
        if "has been rolled back" in text:
            return TaskFailure(
                f"helm upgrade to {release.version} failed; helm rolled the release back{hint}",
                retryable=_looks_transient(tail),
                output_tail=tail,
                result=TaskResult(
                    status=TaskResultStatus.ROLLED_BACK,
                    release_version=previous_version,
                    rolled_back_to=previous_version,
                    message="helm rolled back the failed upgrade",
                ),
            )
        return TaskFailure(
            f"helm upgrade to {release.version} failed: {failure.message}{hint}",
            retryable=_looks_transient(tail) or failure.retryable,
            output_tail=tail,
        )


# Helm's --wait never names the reason a pod is not ready: an image that cannot be pulled
# (spec error 4.8) ends as a wait that ran out of time, in helm 3's words or helm 4's.
_NOT_READY_MARKERS = ("context deadline exceeded", "not ready. status:")
NOT_READY_HINT = (
    " (the pods did not become ready in time; an image that cannot be pulled ends this way: "
    "check imagePullSecrets and that the image tags exist in the registry)"
)


def _revision_from_release_json(stdout: str) -> int | None:
    try:
        document = json.loads(stdout)
    except ValueError:
        return None
    if isinstance(document, dict) and isinstance(document.get("version"), int):
        return int(document["version"]) or None
    return None


def _app_version_from_release_json(stdout: str) -> str | None:
    """The chart's ``appVersion`` in the release helm printed (spec 5.6 ``appVer``)."""
    try:
        document = json.loads(stdout)
    except ValueError:
        return None
    metadata = (document.get("chart") or {}).get("metadata") if isinstance(document, dict) else None
    app_version = metadata.get("appVersion") if isinstance(metadata, dict) else None
    if not isinstance(app_version, str) or not app_version.strip():
        return None
    return app_version.strip()[:MAX_APP_VERSION_LENGTH]


def _looks_transient(tail: list[str]) -> bool:
    text = "\n".join(tail).lower()
    return any(marker in text for marker in _TRANSIENT_MARKERS)
