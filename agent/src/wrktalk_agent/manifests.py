"""The agent's own check of a task's signed release manifest, before anything is downloaded.

The agent trusts only the keys it was installed with (``WRKTALK_AGENT_MANIFEST_TRUSTED_KEYS``),
never any the backend names. For each release a task carries it verifies the manifest's
signature and expiry and then that the task says what the manifest says: the version, this
agent's deployment type, the image tags, and the chart's SHA256 and size, which the download is
then checked against. A version older than the one running is refused unless the task is a
rollback to a version this installation ran before, as recorded in :class:`VersionHistory` in
the state directory; such a rollback may use that version's expired manifest, since those bytes
ran here under a valid one. Every refusal fails the task for good (no retry).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from contracts import DeployTask, ReleaseBundle, RollbackTask, TaskResult, Version
from logconfig import get_logger
from signing import ManifestRefused, RefusalReason, TrustedKeys, verify_manifest
from wrktalk_agent.errors import TaskFailure
from wrktalk_agent.settings import Settings

log = get_logger(__name__)

HISTORY_FILE = "versions.json"


class ManifestRejected(TaskFailure):
    """A task's release manifest was refused; nothing was downloaded or run."""

    def __init__(self, refusal: ManifestRefused) -> None:
        super().__init__(
            f"release manifest refused ({refusal.reason}): {refusal.message}", retryable=False
        )
        self.reason = refusal.reason


class VersionHistory:
    """The versions this installation ran, newest last, kept in ``<state dir>/versions.json``.

    The last one is the version running now; a rollback may go back to any of them.
    """

    def __init__(self, state_dir: str | Path) -> None:
        self._path = Path(state_dir) / HISTORY_FILE
        self._versions: list[str] = self._load()

    def _load(self) -> list[str]:
        try:
            data = json.loads(self._path.read_text())
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as exc:
            # An unreadable history must not pass for an empty one: that would allow rollbacks.
            raise TaskFailure(f"cannot read {self._path}: {exc}", retryable=False) from exc
        versions = data.get("versions") if isinstance(data, dict) else None
        if not isinstance(versions, list) or not all(isinstance(v, str) for v in versions):
            raise TaskFailure(f"{self._path} holds no list of versions", retryable=False)
        return versions

    @property
    def running(self) -> Version | None:
        """The version deployed last, None before the first deployment."""
        return Version.parse(self._versions[-1]) if self._versions else None

    def has_run(self, version: Version) -> bool:
        """Whether this installation ran ``version`` at some time."""
        return str(version) in self._versions

    def record(self, version: Version) -> None:
        """Note ``version`` as running now, written atomically (a crash leaves the old file)."""
        text = str(version)
        self._versions = [item for item in self._versions if item != text] + [text]
        self._path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        descriptor, temporary = tempfile.mkstemp(dir=self._path.parent, prefix=".versions-")
        with os.fdopen(descriptor, "w") as handle:
            json.dump({"versions": self._versions}, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self._path)
        log.info("state.version.recorded", version=text)


@dataclass(frozen=True)
class ManifestCheck:
    """What checking a task's manifests needs."""

    settings: Settings
    trusted: TrustedKeys
    history: VersionHistory
    now: datetime


@dataclass(frozen=True)
class CheckedBundles:
    """A task's bundles once their manifests hold: the one to run and the one to restore."""

    release: ReleaseBundle | None
    previous: ReleaseBundle | None = None


def check_task(task: DeployTask | RollbackTask, check: ManifestCheck) -> CheckedBundles:
    """Check every bundle of ``task`` (see :func:`checked_bundle`); a rollback by revision
    carries none."""
    if isinstance(task, RollbackTask):
        release = task.payload.release
        return CheckedBundles(
            checked_bundle(release, check, purpose="rollback") if release else None
        )
    previous = task.payload.previous
    return CheckedBundles(
        checked_bundle(task.payload, check, purpose="deploy"),
        checked_bundle(previous, check, purpose="restore") if previous else None,
    )


def record_running(
    history: VersionHistory, result: TaskResult, bundle: ReleaseBundle | None
) -> TaskResult:
    """Remember the version a successful task left running; ``result`` unchanged."""
    version = result.release_version or (bundle.version if bundle is not None else None)
    if version is not None:
        history.record(version)
    return result


def checked_bundle(bundle: ReleaseBundle, check: ManifestCheck, *, purpose: str) -> ReleaseBundle:
    """``bundle`` once its manifest holds, with its chart's digest and size the signed ones.

    ``purpose`` is ``deploy`` (the version to run), ``rollback`` (a version to go back to) or
    ``restore`` (the version running now, kept to re-deploy if the deployment fails: neither
    its age nor its expiry matters). :class:`ManifestRejected` when the bundle must not run.
    """
    try:
        return _checked(bundle, check, purpose=purpose)
    except ManifestRefused as refusal:
        log.warning(
            "task.manifest.refused",
            version=str(bundle.version),
            purpose=purpose,
            reason=str(refusal.reason),
            error=refusal.message,
        )
        raise ManifestRejected(refusal) from None


def _checked(bundle: ReleaseBundle, check: ManifestCheck, *, purpose: str) -> ReleaseBundle:
    settings, history = check.settings, check.history
    signed = bundle.manifest
    if signed is None:
        if settings.allow_unsigned_releases:
            log.warning("task.manifest.unsigned_accepted", version=str(bundle.version))
            return bundle
        raise ManifestRefused(
            RefusalReason.UNSIGNED,
            f"version {bundle.version} comes without a signed manifest and unsigned releases "
            "are not allowed (WRKTALK_AGENT_ALLOW_UNSIGNED_RELEASES)",
        )
    ran_before = history.has_run(bundle.version)
    known_bytes = purpose == "restore" or (purpose == "rollback" and ran_before)
    manifest = verify_manifest(signed, check.trusted, now=check.now, check_expiry=not known_bytes)
    if manifest.version != bundle.version:
        raise ManifestRefused(
            RefusalReason.MISMATCH,
            f"the task deploys {bundle.version} with the manifest of {manifest.version}",
        )
    if settings.deployment_type not in manifest.deployment_types:
        raise ManifestRefused(
            RefusalReason.MISMATCH,
            f"the manifest of {manifest.version} is for "
            f"{', '.join(manifest.deployment_types)}, not {settings.deployment_type}",
        )
    artifact = manifest.artifact_of(settings.deployment_type.artifact_type)
    if artifact is None or artifact.type != bundle.chart.type:
        raise ManifestRefused(
            RefusalReason.MISMATCH,
            f"the manifest of {manifest.version} has no {bundle.chart.type} artifact",
        )
    if artifact.sha256 != bundle.chart.sha256 or bundle.chart.size_bytes not in (
        None,
        artifact.size_bytes,
    ):
        raise ManifestRefused(
            RefusalReason.MISMATCH,
            f"the task's {artifact.type} artifact of {manifest.version} is not the signed one "
            f"(SHA256 {bundle.chart.sha256}, signed {artifact.sha256})",
        )
    if dict(bundle.image_tags) != dict(manifest.image_tags):
        raise ManifestRefused(
            RefusalReason.MISMATCH,
            f"the task's image tags of {manifest.version} are not the signed ones",
        )
    running = history.running
    is_older = running is not None and manifest.version < running
    if purpose != "restore" and is_older and not (purpose == "rollback" and ran_before):
        raise ManifestRefused(
            RefusalReason.ROLLBACK,
            f"version {manifest.version} is older than the running {running} and is no "
            "rollback to a version this installation ran before",
        )
    chart = bundle.chart.model_copy(
        update={"sha256": artifact.sha256, "size_bytes": artifact.size_bytes}
    )
    return bundle.model_copy(update={"chart": chart})
