"""The agent's metrics: task durations by executor and outcome, failed polls and heartbeats,
served on a port or written to a textfile for node exporter."""

import asyncio
import io
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from prometheus_client import REGISTRY, generate_latest

from agent.tests.support.backend_tasks import BackendTasks, bundle
from agent.tests.support.helm_stand_in import HELM4_VERSION, HelmStandIn, release_json
from contracts import ArtifactType
from logconfig import configure_logging, logging_restored
from testsupport.metrics import Scrape, sample_values
from wrktalk_agent.agent import Agent, OnceExit
from wrktalk_agent.backend import BackendClient
from wrktalk_agent.control import StopControl
from wrktalk_agent.heartbeat import Heartbeat
from wrktalk_testing.network import free_port
from wrktalk_testing.servers import ServedApp

AgentFactory = Callable[..., Agent]
StandInFactory = Callable[[str], HelmStandIn]
DURATION_COUNT = "wrktalk_agent_task_duration_seconds_count"


async def helm_task(backend_tasks: BackendTasks, version: str) -> Any:
    chart = await backend_tasks.put(
        f"artifacts/helm/wrktalk-{version}.tgz", b"chart " + version.encode()
    )
    payload = bundle(version, chart, artifact_type=ArtifactType.HELM, image_tags={"backend": "b1"})
    return await backend_tasks.add_task("deploy", payload)


def read_textfile(path: Path) -> Scrape:
    return Scrape(sample_values(path.read_text()) if path.exists() else {})


async def test_a_completed_and_a_failed_task_are_written_to_the_textfile(
    backend_tasks: BackendTasks,
    make_agent: AgentFactory,
    helm_stand_in: StandInFactory,
    tmp_path: Path,
) -> None:
    textfile = tmp_path / "wrktalk_agent.prom"
    helm = helm_stand_in(HELM4_VERSION)
    agent = make_agent(metrics_textfile=str(textfile))
    labels = {"executor": "kubernetes"}
    # the process's registry holds what earlier tests ran; the textfile starts from it
    before = Scrape(sample_values(generate_latest(REGISTRY).decode()))

    helm.play("upgrade", stdout=release_json(2, "2.3.0"))
    await helm_task(backend_tasks, "2.3.0")
    assert await agent.run_once() is OnceExit.COMPLETED
    helm.plays.clear()
    helm.play("upgrade", exit_code=1, stderr="Error: UPGRADE FAILED: timed out")
    await helm_task(backend_tasks, "2.3.1")
    assert await agent.run_once() is OnceExit.FAILED

    after = read_textfile(textfile)
    assert after.moved(before, DURATION_COUNT, outcome="completed", **labels) == 1
    assert after.moved(before, DURATION_COUNT, outcome="failed", **labels) == 1
    assert "wrktalk_agent_heartbeat_failures_total" in textfile.read_text()


async def test_with_a_port_the_agent_serves_its_metrics(
    backend_tasks: BackendTasks, make_agent: AgentFactory
) -> None:
    port = free_port()
    agent = make_agent(poll_interval=30, metrics_port=port, metrics_address="127.0.0.1")
    running = asyncio.create_task(agent.run())
    try:
        for _ in range(100):
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/metrics")
                break
            except httpx.ConnectError:
                await asyncio.sleep(0.05)
        assert response.status_code == 200
        assert "wrktalk_agent_heartbeat_failures_total" in response.text
    finally:
        agent.control.request_stop()
        await asyncio.wait_for(running, timeout=10)


async def test_a_failed_poll_is_counted_and_written_to_the_textfile(
    make_agent: AgentFactory, tmp_path: Path
) -> None:
    textfile = tmp_path / "wrktalk_agent.prom"
    # nothing listens there: the poll fails to connect
    agent = make_agent(
        backend_url=f"http://127.0.0.1:{free_port()}", metrics_textfile=str(textfile)
    )
    before = Scrape(sample_values(generate_latest(REGISTRY).decode()))

    assert await agent.run_once() is OnceExit.ERROR

    assert read_textfile(textfile).moved(before, "wrktalk_agent_poll_failures_total") == 1


async def test_heartbeats_the_backend_refuses_are_counted(backend_server: ServedApp) -> None:
    backend = BackendClient(base_url=backend_server.base_url, agent_secret="wrong", timeout=5)
    control = StopControl(grace_period=1)
    heartbeat = Heartbeat(backend=backend, task_id=uuid.uuid4(), interval=0.01, control=control)
    output = io.StringIO()
    before = Scrape(sample_values(generate_latest(REGISTRY).decode()))
    with logging_restored():
        configure_logging(stream=output)
        heartbeat.start()
        try:
            for _ in range(500):
                if output.getvalue().count("task.heartbeat.failed") >= 3:
                    break
                await asyncio.sleep(0.01)
        finally:
            await heartbeat.stop()
            await backend.aclose()

    after = Scrape(sample_values(generate_latest(REGISTRY).decode()))
    refused = output.getvalue().count("task.heartbeat.failed")
    assert refused >= 3
    assert heartbeat.sent == 0
    assert not control.abandoned.is_set(), "a 401 is not the task being gone"
    assert after.moved(before, "wrktalk_agent_heartbeat_failures_total") == refused
