"""The poll loop: jitter, backoff, recovery, and the routes it calls."""

import asyncio
import random
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from agent.tests.support.backend_tasks import BackendTasks, bundle
from agent.tests.support.helm_stand_in import HELM4_VERSION, HelmStandIn, release_json
from contracts import ArtifactType
from customer_backend.app import create_app
from customer_backend.settings import Settings as BackendSettings
from testsupport.gcc_fixtures import TaskRecorder
from timekeeping import ManualClock
from wrktalk_agent.agent import Agent, OnceExit
from wrktalk_agent.backend import CONFIG_PATH, LICENSE_PATH, TASKS_PATH
from wrktalk_agent.errors import ConfigurationError
from wrktalk_testing.network import free_port
from wrktalk_testing.servers import ServedApp

AgentFactory = Callable[..., Agent]
StandInFactory = Callable[[str], HelmStandIn]


async def helm_task(backend_tasks: BackendTasks, version: str = "2.3.0") -> Any:
    chart = await backend_tasks.put(
        f"artifacts/helm/wrktalk-{version}.tgz", b"chart " + version.encode()
    )
    payload = bundle(version, chart, artifact_type=ArtifactType.HELM, image_tags={"backend": "b1"})
    return await backend_tasks.add_task("deploy", payload)


async def test_an_empty_queue_is_exit_code_3(
    backend_tasks: BackendTasks, make_agent: AgentFactory
) -> None:
    assert await make_agent().run_once() is OnceExit.NO_TASK


def test_an_agent_without_a_secret_refuses_to_start(agent_settings: Callable[..., Any]) -> None:
    with pytest.raises(ConfigurationError, match="WRKTALK_AGENT_AGENT_SECRET is not set"):
        Agent(agent_settings(agent_secret=""))


async def test_an_unreachable_backend_is_exit_code_2(make_agent: AgentFactory) -> None:
    agent = make_agent(backend_url=f"http://127.0.0.1:{free_port()}")
    assert await agent.run_once() is OnceExit.ERROR


async def test_a_wrong_secret_is_exit_code_2(
    backend_tasks: BackendTasks, make_agent: AgentFactory
) -> None:
    assert await make_agent(agent_secret="not-the-secret").run_once() is OnceExit.ERROR


def test_the_poll_interval_has_jitter_and_failures_back_off_up_to_the_cap(
    make_agent: AgentFactory,
) -> None:
    agent = make_agent(poll_interval=10, poll_jitter=0.1, backoff_max=300)
    agent._random = random.Random(7)
    delays = {round(agent.next_delay(), 3) for _ in range(50)}
    assert all(9 <= delay <= 11 for delay in delays)
    assert len(delays) > 40

    ceilings = []
    for failures in range(1, 10):
        agent.consecutive_failures = failures
        samples = [agent.next_delay() for _ in range(50)]
        ceiling = min(300, 10 * 2**failures)
        assert all(ceiling / 2 <= sample <= ceiling for sample in samples)
        ceilings.append(max(samples))
    assert ceilings[0] < ceilings[1] < ceilings[2] < ceilings[3]
    assert max(ceilings) <= 300


async def test_the_loop_keeps_polling_while_the_backend_is_down_and_recovers(
    backend_tasks: BackendTasks,
    make_agent: AgentFactory,
    helm_stand_in: StandInFactory,
    backend_settings: BackendSettings,
    gcc_clock: ManualClock,
    backend_task_recorder: TaskRecorder,
) -> None:
    helm = helm_stand_in(HELM4_VERSION)
    helm.play("upgrade", stdout=release_json(2, "2.3.0"))
    port = free_port()
    agent = make_agent(backend_url=f"http://127.0.0.1:{port}", poll_interval=0.02, backoff_max=0.3)
    running = asyncio.create_task(agent.run())
    for _ in range(1000):
        if agent.consecutive_failures >= 4:
            break
        await asyncio.sleep(0.01)
    assert agent.consecutive_failures >= 4
    assert not running.done()

    task_id = await helm_task(backend_tasks)
    served = ServedApp(
        create_app(backend_settings, clock=gcc_clock, send_task=backend_task_recorder), port=port
    )
    served.start()
    try:
        for _ in range(300):
            if (await backend_tasks.task(task_id)).status == "completed":
                break
            await asyncio.sleep(0.05)
        assert (await backend_tasks.task(task_id)).status == "completed"
        assert agent.consecutive_failures == 0
    finally:
        agent.control.request_stop()
        await asyncio.wait_for(running, timeout=10)
        served.stop()


async def test_the_loop_runs_queued_tasks_back_to_back_and_stops_between_tasks_at_once(
    backend_tasks: BackendTasks, make_agent: AgentFactory, helm_stand_in: StandInFactory
) -> None:
    helm = helm_stand_in(HELM4_VERSION)
    helm.play("upgrade", stdout=release_json(2, "2.3.0"))
    first = await helm_task(backend_tasks, "2.3.0")
    second = await helm_task(backend_tasks, "2.3.1")
    agent = make_agent(poll_interval=30)
    running = asyncio.create_task(agent.run())
    for _ in range(300):
        statuses = {(await backend_tasks.task(task)).status for task in (first, second)}
        if statuses == {"completed"}:
            break
        await asyncio.sleep(0.05)
    assert statuses == {"completed"}

    # Now asleep for a 30-second poll interval: a stop ends the loop at once.
    started = asyncio.get_running_loop().time()
    agent.control.request_stop()
    await asyncio.wait_for(running, timeout=5)
    assert asyncio.get_running_loop().time() - started < 1


async def test_every_route_the_agent_calls_exists_in_the_backends_openapi_document(
    backend_client: httpx.AsyncClient,
) -> None:
    document = (await backend_client.get("/openapi.json")).json()
    paths = document["paths"]
    called = {
        ("get", TASKS_PATH),
        ("post", TASKS_PATH + "/{taskId}/status"),
        ("post", TASKS_PATH + "/{taskId}/heartbeat"),
        ("post", TASKS_PATH + "/{taskId}/logs"),
        ("post", CONFIG_PATH),
        ("get", LICENSE_PATH),
    }
    missing = {(method, path) for method, path in called if method not in paths.get(path, {})}
    assert missing == set()
