"""The ``wrktalk-agent`` command as an operator runs it: a separate process, real signals."""

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from agent.tests.support.backend_tasks import BackendTasks, bundle, signed_manifest
from agent.tests.support.helm_stand_in import HELM4_VERSION, HelmStandIn, release_json
from contracts import ArtifactType
from testsupport.backend_fixtures import AGENT_SECRET
from testsupport.manifest_keys import TEST_PUBLIC_KEY
from wrktalk_testing.network import free_port
from wrktalk_testing.servers import ServedApp

StandInFactory = Callable[[str], HelmStandIn]


@pytest.fixture
def agent_environment(backend_server: ServedApp, tmp_path: Path) -> dict[str, str]:
    """The environment of an agent process talking to the served backend."""
    environment = {
        name: value for name, value in os.environ.items() if not name.startswith("WRKTALK_AGENT_")
    }
    environment.update(
        {
            "WRKTALK_AGENT_BACKEND_URL": backend_server.base_url,
            "WRKTALK_AGENT_AGENT_SECRET": AGENT_SECRET,
            "WRKTALK_AGENT_DEPLOYMENT_TYPE": "kubernetes",
            "WRKTALK_AGENT_POLL_INTERVAL": "0.1",
            "WRKTALK_AGENT_HEARTBEAT_INTERVAL": "0.2",
            "WRKTALK_AGENT_LOG_BATCH_INTERVAL": "0.05",
            "WRKTALK_AGENT_HELM_TIMEOUT": "1m",
            "WRKTALK_AGENT_SHUTDOWN_GRACE_PERIOD": "0.5",
            "WRKTALK_AGENT_TEMP_DIR": str(tmp_path / "agent-tmp"),
            "WRKTALK_AGENT_STATE_DIR": str(tmp_path / "agent-state"),
            "WRKTALK_AGENT_MANIFEST_TRUSTED_KEYS": TEST_PUBLIC_KEY,
            "WRKTALK_AGENT_LOG_JSON": "true",
        }
    )
    return environment


def agent_command(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "wrktalk_agent", *arguments]


def run_agent(environment: dict[str, str], *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        agent_command(*arguments),
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def slow_task(backend_tasks: BackendTasks) -> Any:
    chart = await backend_tasks.put("artifacts/helm/wrktalk-2.3.0.tgz", b"chart")
    tags = {"backend": "b"}
    # The agent process reads the system clock: its manifest is valid around the real now.
    now = datetime.now(UTC)
    manifest = signed_manifest(
        "2.3.0",
        chart,
        artifact_type=ArtifactType.HELM,
        image_tags=tags,
        issued_at=now - timedelta(hours=1),
        expires_at=now + timedelta(hours=1),
    )
    payload = bundle(
        "2.3.0", chart, artifact_type=ArtifactType.HELM, image_tags=tags, manifest=manifest
    )
    return await backend_tasks.add_task("deploy", payload)


async def test_check_prints_one_line_per_check_and_passes(
    backend_tasks: BackendTasks, agent_environment: dict[str, str]
) -> None:
    result = await asyncio.to_thread(run_agent, agent_environment, "check")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "ok   agent secret: set"
    assert lines[1].startswith("ok   backend: http://127.0.0.1:")
    assert lines[1].endswith("reachable, secret accepted")
    assert lines[2] == "ok   license: valid (no expiry)"
    assert lines[3] == "ok   manifest keys: 1 trusted"
    assert lines[4].startswith("ok   helm: helm v")
    assert lines[5].startswith("ok   directory ")
    assert lines[6].startswith("ok   directory ")
    assert lines[6].endswith("agent-state: writable")
    assert len(lines) == 7


async def test_check_fails_when_the_secret_is_refused(
    backend_tasks: BackendTasks, agent_environment: dict[str, str]
) -> None:
    environment = {**agent_environment, "WRKTALK_AGENT_AGENT_SECRET": "wrong", "PATH": "/bin"}
    result = await asyncio.to_thread(run_agent, environment, "check")
    assert result.returncode == 1
    assert "FAIL backend: " in result.stdout
    assert "secret refused (HTTP 401)" in result.stdout or "secret refused" in result.stdout
    assert "FAIL helm: " in result.stdout


async def test_once_says_with_its_exit_code_that_there_was_no_task(
    backend_tasks: BackendTasks, agent_environment: dict[str, str]
) -> None:
    result = await asyncio.to_thread(run_agent, agent_environment, "once")
    assert result.returncode == 3, result.stderr
    assert result.stderr.strip().endswith("wrktalk-agent once: no task")


async def test_sigterm_during_a_task_reports_it_failed_and_retryable_then_exits(
    backend_tasks: BackendTasks,
    agent_environment: dict[str, str],
    helm_stand_in: StandInFactory,
) -> None:
    helm = helm_stand_in(HELM4_VERSION)
    helm.play("upgrade", stdout=release_json(3, "2.3.0"), hold=True)
    task_id = await slow_task(backend_tasks)
    environment = {**agent_environment, "PATH": os.environ["PATH"]}
    process = subprocess.Popen(
        agent_command("run"), env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 30
        while not helm.started_file.exists():
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        exit_code = await asyncio.to_thread(process.wait, 30)
    finally:
        if process.poll() is None:
            process.kill()
    output = process.stdout.read().decode() if process.stdout else ""
    assert exit_code == 0, output
    task = await backend_tasks.task(task_id)
    assert task.status == "failed"
    assert task.error_message == "agent stopped during helm upgrade; the task can run again"
    assert '"event": "agent.stopped"' in output


async def test_sigterm_between_tasks_exits_at_once(agent_environment: dict[str, str]) -> None:
    environment = {
        **agent_environment,
        "WRKTALK_AGENT_BACKEND_URL": f"http://127.0.0.1:{free_port()}",
        "WRKTALK_AGENT_POLL_INTERVAL": "30",
    }
    process = subprocess.Popen(
        agent_command("run"), env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        output = b""
        assert process.stdout is not None
        while b"agent.poll.failed" not in output:
            output += process.stdout.readline()
            assert process.poll() is None
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        exit_code = await asyncio.to_thread(process.wait, 10)
        assert time.monotonic() - started < 2
    finally:
        if process.poll() is None:
            process.kill()
    assert exit_code == 0
