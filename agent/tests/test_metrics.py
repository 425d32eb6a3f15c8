"""The agent's metrics: task durations by executor and outcome, served on a port or written
to a textfile for node exporter."""

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from prometheus_client import REGISTRY, generate_latest

from agent.tests.support.backend_tasks import BackendTasks, bundle
from agent.tests.support.helm_stand_in import HELM4_VERSION, HelmStandIn, release_json
from contracts import ArtifactType
from testsupport.metrics import Scrape, sample_values
from wrktalk_agent.agent import Agent, OnceExit
from wrktalk_testing.network import free_port

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
