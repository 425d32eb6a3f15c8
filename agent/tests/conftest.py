"""Fixtures of the agent tests: the real customer backend on loopback (shared fixtures), its
bucket and task queue, agents wired to it, real helm charts, a recorded helm stand-in for the
cluster-only commands, and a real Docker Engine for Compose."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.tests.support.artifacts import package_chart
from agent.tests.support.backend_tasks import BackendTasks
from agent.tests.support.docker_engine import DockerEngine, DockerUnavailable, start_engine
from agent.tests.support.helm_stand_in import HelmStandIn, install_stand_in, path_with
from contracts import DeploymentType
from customer_backend.runtime import build_store
from customer_backend.settings import Settings as BackendSettings
from servicekit.db import SessionFactory
from testsupport.backend_fixtures import AGENT_SECRET
from testsupport.manifest_keys import TEST_PUBLIC_KEY
from timekeeping import ManualClock
from wrktalk_agent.agent import Agent
from wrktalk_agent.settings import Settings
from wrktalk_testing.servers import ServedApp

SettingsFactory = Callable[..., Settings]
AgentFactory = Callable[..., Agent]


@pytest.fixture
async def backend_tasks(
    backend_server: ServedApp,
    backend_settings: BackendSettings,
    backend_sessions: SessionFactory,
    gcc_clock: ManualClock,
) -> AsyncIterator[BackendTasks]:
    """The served backend's bucket and task queue, its tables emptied for the test (GCC is not
    involved: what the backend reports upstream waits in its outbox)."""
    async with build_store(backend_settings) as store:
        yield BackendTasks(store=store, sessions=backend_sessions, clock=gcc_clock)


@pytest.fixture
def agent_settings(backend_server: ServedApp, tmp_path: Path) -> SettingsFactory:
    """Agent settings for the served backend, with intervals short enough for tests."""

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "backend_url": backend_server.base_url,
            "agent_secret": AGENT_SECRET,
            "deployment_type": DeploymentType.KUBERNETES,
            "poll_interval": 0.05,
            "backoff_max": 0.4,
            "heartbeat_interval": 1.0,
            "log_batch_interval": 0.25,
            "report_attempts": 3,
            "shutdown_grace_period": 5.0,
            "command_timeout": 60.0,
            "temp_dir": str(tmp_path / "agent-tmp"),
            "helm_timeout": "1m",
            "compose_working_dir": str(tmp_path / "compose"),
            "compose_wait_timeout": 20.0,
            "compose_settle_period": 0.5,
            "manifest_trusted_keys": [TEST_PUBLIC_KEY],
            "state_dir": str(tmp_path / "agent-state"),
            "log_json": False,
        }
        values.update(overrides)
        return Settings(**values)

    return make


@pytest.fixture
async def make_agent(
    agent_settings: SettingsFactory, gcc_clock: ManualClock
) -> AsyncIterator[AgentFactory]:
    """Agents on the backend's clock, closed after the test."""
    agents: list[Agent] = []

    def make(**overrides: Any) -> Agent:
        agent = Agent(agent_settings(**overrides), clock=gcc_clock)
        agents.append(agent)
        return agent

    yield make
    for agent in agents:
        await agent.aclose()


@pytest.fixture(scope="session")
def helm_charts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The fixture chart packaged by the real helm, per version."""
    directory = tmp_path_factory.mktemp("charts")
    return {version: package_chart(directory, version) for version in ("2.2.0", "2.3.0")}


@pytest.fixture
def helm_stand_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], HelmStandIn]:
    """Put a recorded ``helm`` first on PATH, answering ``helm version`` with the version."""

    def install(version: str) -> HelmStandIn:
        stand_in = install_stand_in(tmp_path / f"helm-{uuid.uuid4().hex[:6]}", version=version)
        monkeypatch.setenv("PATH", path_with(stand_in.directory))
        return stand_in

    return install


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[DockerEngine]:
    """A real dockerd with a loopback registry holding the test images; skips the tests only
    when Docker cannot be installed or started on this machine."""
    try:
        engine = start_engine()
    except DockerUnavailable as exc:
        pytest.skip(f"Docker Engine unavailable: {exc}")
    previous = os.environ.get("DOCKER_HOST")
    os.environ["DOCKER_HOST"] = engine.host
    yield engine
    if previous is None:
        os.environ.pop("DOCKER_HOST", None)
    else:
        os.environ["DOCKER_HOST"] = previous
    engine.stop()


@pytest.fixture
def compose_project(docker_engine: DockerEngine) -> Iterator[str]:
    """A Compose project name of this test; its containers are removed afterwards."""
    yield f"wt{uuid.uuid4().hex[:8]}"
    docker_engine.remove_all_containers()
