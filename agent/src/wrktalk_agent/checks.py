"""``wrktalk-agent check``: can this agent work? One line per check."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from logconfig import get_logger
from wrktalk_agent.backend import BackendClient
from wrktalk_agent.commands import CommandRunner
from wrktalk_agent.errors import BackendRejected, BackendUnavailable, ConfigurationError
from wrktalk_agent.executors import CheckLine, build_executor
from wrktalk_agent.settings import Settings

log = get_logger(__name__)


async def run_checks(
    settings: Settings, *, backend: BackendClient | None = None
) -> list[CheckLine]:
    """Backend reachable and secret accepted, license, executor binaries and versions, and
    the directories the agent writes to."""
    lines: list[CheckLine] = []
    secret = settings.agent_secret.get_secret_value()
    lines.append(
        CheckLine(
            "agent secret",
            bool(secret),
            "set" if secret else "WRKTALK_AGENT_AGENT_SECRET is not set",
        )
    )
    client = backend or BackendClient(
        base_url=settings.backend_url, agent_secret=secret, timeout=settings.backend_timeout
    )
    try:
        lines += await _backend_lines(settings, client)
    finally:
        if backend is None:
            await client.aclose()
    keys = len(settings.manifest_trusted_keys)
    lines.append(
        CheckLine(
            "manifest keys",
            bool(keys) or settings.allow_unsigned_releases,
            f"{keys} trusted" if keys else "WRKTALK_AGENT_MANIFEST_TRUSTED_KEYS is not set",
        )
    )
    directories = [Path(settings.temp_dir or tempfile.gettempdir()), Path(settings.state_dir)]
    try:
        executor = build_executor(settings)
    except ConfigurationError as exc:
        lines.append(CheckLine(str(settings.deployment_type), False, str(exc)))
    else:
        lines += await executor.check(CommandRunner(secrets=[secret]))
        directories += executor.working_directories()
    lines += [_writable(directory) for directory in directories]
    return lines


async def _backend_lines(settings: Settings, client: BackendClient) -> list[CheckLine]:
    try:
        status = await client.license_status()
    except BackendRejected as exc:
        reason = "secret refused" if exc.status_code in (401, 403) else "request refused"
        return [CheckLine("backend", False, f"{settings.backend_url}: {reason}: {exc}")]
    except BackendUnavailable as exc:
        return [CheckLine("backend", False, f"{settings.backend_url} unreachable: {exc}")]
    lines = [CheckLine("backend", True, f"{settings.backend_url} reachable, secret accepted")]
    if status.valid:
        until = f"until {status.expires_at.isoformat()}" if status.expires_at else "no expiry"
        lines.append(CheckLine("license", True, f"valid ({until})"))
    else:
        lines.append(CheckLine("license", False, "expired: deployments will be refused"))
    return lines


def _writable(directory: Path) -> CheckLine:
    name = f"directory {directory}"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        descriptor, probe = tempfile.mkstemp(prefix=".wrktalk-check-", dir=directory)
        os.close(descriptor)
        os.unlink(probe)
    except OSError as exc:
        return CheckLine(name, False, f"not writable: {exc.strerror or exc}")
    return CheckLine(name, True, "writable")


def render_line(line: CheckLine) -> str:
    """``ok   name: detail`` or ``FAIL name: detail``."""
    return f"{'ok' if line.ok else 'FAIL':<4} {line.name}: {line.detail}"
