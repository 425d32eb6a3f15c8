"""One task from claim to report, against the real customer backend (helm is the recorded
stand-in: the steps around the executor are what these tests are about)."""

import asyncio
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text, update
from sqlmodel import select

from agent.tests.support.backend_tasks import BackendTasks, bundle
from agent.tests.support.helm_stand_in import (
    HELM4_VERSION,
    INVALID_CHART,
    HelmStandIn,
    release_json,
)
from contracts import AgentTaskStatus, ArtifactType
from customer_backend.agent_tasks.models import AgentTask
from customer_backend.app import create_app
from customer_backend.config.models import NonEssentialEnv
from customer_backend.deployments.timelines import time_out_stalled_tasks
from customer_backend.settings import Settings as BackendSettings
from servicekit.db import SessionFactory
from testsupport.backend_fixtures import AGENT_SECRET
from testsupport.gcc_fixtures import TaskRecorder
from timekeeping import ManualClock
from wrktalk_agent.agent import OnceExit
from wrktalk_agent.execution import TaskOutcomeKind
from wrktalk_testing.servers import ServedApp

AgentFactory = Callable[..., Any]
StandInFactory = Callable[[str], HelmStandIn]
IMAGE_TAGS = {"backend": "sha-b", "media": "sha-m", "controlTower": "sha-c", "agent": "sha-a"}

MAINTENANCE_RECORDER = """import sys, pathlib
flag, record = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
with record.open("a") as out:
    out.write(("on" if flag.exists() else "off") + "\\n")
"""


async def deploy_payload(
    backend_tasks: BackendTasks, *, chart: bytes = b"chart-2.3.0"
) -> dict[str, Any]:
    stored_chart = await backend_tasks.put("artifacts/helm/wrktalk-2.3.0.tgz", chart)
    values = await backend_tasks.put("config/values.r1.yaml", b"replicaCount: 2\n")
    return bundle(
        "2.3.0", stored_chart, artifact_type=ArtifactType.HELM, image_tags=IMAGE_TAGS, values=values
    )


@pytest.fixture
def maintenance(tmp_path: Path) -> dict[str, Any]:
    """Settings that switch maintenance mode with a flag file and a recording command."""
    recorder = tmp_path / "maintenance.py"
    recorder.write_text(MAINTENANCE_RECORDER)
    flag = tmp_path / "maintenance" / "on"
    record = tmp_path / "maintenance.log"
    return {
        "maintenance_flag_file": str(flag),
        "maintenance_command": f"{sys.executable} {recorder} {flag} {record}",
        "record": record,
    }


def without_record(settings: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in settings.items() if key != "record"}


async def test_a_sha256_mismatch_fails_the_task_and_executes_nothing(
    backend_tasks: BackendTasks,
    make_agent: AgentFactory,
    helm_stand_in: StandInFactory,
    maintenance: dict[str, Any],
    tmp_path: Path,
) -> None:
    helm = helm_stand_in(HELM4_VERSION)
    payload = await deploy_payload(backend_tasks)
    payload["values"]["sha256"] = "0" * 64
    task_id = await backend_tasks.add_task("deploy", payload)

    agent = make_agent(**without_record(maintenance))
    assert await agent.run_once() is OnceExit.FAILED

    task = await backend_tasks.task(task_id)
    assert task.status == "failed"
    assert task.error_message is not None
    assert task.error_message.startswith(
        f"config/values.r1.yaml: SHA256 mismatch (expected {'0' * 64}, got "
    )
    assert task.error_message.endswith("); nothing was executed")
    assert helm.calls() == []
    assert not maintenance["record"].exists()
    assert list((tmp_path / "agent-tmp").iterdir()) == []


async def test_maintenance_mode_is_on_during_the_deploy_and_off_after_a_failure(
    backend_tasks: BackendTasks,
    make_agent: AgentFactory,
    helm_stand_in: StandInFactory,
    maintenance: dict[str, Any],
) -> None:
    helm = helm_stand_in(HELM4_VERSION)
    helm.play("upgrade", exit_code=1, stderr=INVALID_CHART)
    task_id = await backend_tasks.add_task("deploy", await deploy_payload(backend_tasks))

    assert await make_agent(**without_record(maintenance)).run_once() is OnceExit.FAILED

    assert maintenance["record"].read_text() == "on\noff\n"
    assert not Path(maintenance["maintenance_flag_file"]).exists()
    notes = [line.line for line in await backend_tasks.log_lines(task_id) if line.stream == "agent"]
    on, upgrade, off = (
        notes.index("maintenance mode on"),
        next(n for n, note in enumerate(notes) if note.startswith("$ helm upgrade")),
        notes.index("maintenance mode off"),
    )
    assert on < upgrade < off


async def test_the_release_variables_are_added_without_overwriting_an_admins_value(
    backend_tasks: BackendTasks,
    make_agent: AgentFactory,
    helm_stand_in: StandInFactory,
    backend_sessions: SessionFactory,
    gcc_clock: ManualClock,
) -> None:
    helm = helm_stand_in(HELM4_VERSION)
    helm.play("upgrade", stdout=release_json(2, "2.3.0"))
    now = gcc_clock.now()
    async with backend_sessions() as session:
        session.add(NonEssentialEnv(key="THEME", value="dark", created_at=now, updated_at=now))
        await session.commit()
    payload = await deploy_payload(backend_tasks)
    payload["newNonEssentialEnvs"] = [
        {"key": "NEW_FEATURE", "value": "false"},
        {"key": "THEME", "value": "light"},
    ]
    task_id = await backend_tasks.add_task("deploy", payload)

    assert await make_agent().run_once() is OnceExit.COMPLETED

    async with backend_sessions() as session:
        rows = (await session.exec(select(NonEssentialEnv))).all()
    assert {row.key: row.value for row in rows} == {"THEME": "dark", "NEW_FEATURE": "false"}
    notes = [line.line for line in await backend_tasks.log_lines(task_id)]
    assert "non-essential variable NEW_FEATURE added" in notes
    assert "non-essential variable THEME already set, kept" in notes


DISK_FULL_ON_NEW_FEATURE = (
    """
CREATE FUNCTION refuse_new_feature() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.key = 'NEW_FEATURE' THEN
        RAISE EXCEPTION 'could not extend file: No space left on device' USING ERRCODE = '53100';
    END IF;
    RETURN NEW;
END $$
""",
    """
CREATE TRIGGER refuse_new_feature BEFORE INSERT ON non_essential_env
    FOR EACH ROW EXECUTE FUNCTION refuse_new_feature()
""",
)


@pytest.fixture
async def disk_full_for_new_feature(backend_sessions: SessionFactory) -> AsyncIterator[None]:
    """The backend's database refuses to store NEW_FEATURE as a full disk does (53100)."""
    async with backend_sessions() as session:
        for statement in DISK_FULL_ON_NEW_FEATURE:
            await session.exec(text(statement))  # type: ignore[call-overload]
        await session.commit()
    yield
    async with backend_sessions() as session:
        await session.exec(  # type: ignore[call-overload]
            text("DROP TRIGGER refuse_new_feature ON non_essential_env")
        )
        await session.exec(text("DROP FUNCTION refuse_new_feature()"))  # type: ignore[call-overload]
        await session.commit()


async def test_a_variable_the_backend_cannot_store_is_logged_and_the_deploy_completes(
    backend_tasks: BackendTasks,
    backend_server: ServedApp,
    make_agent: AgentFactory,
    helm_stand_in: StandInFactory,
    backend_sessions: SessionFactory,
    disk_full_for_new_feature: None,
) -> None:
    # Spec 8.4, error 4.4: the backend's config insert fails; the deployment goes on.
    helm = helm_stand_in(HELM4_VERSION)
    helm.play("upgrade", stdout=release_json(2, "2.3.0"))
    payload = await deploy_payload(backend_tasks)
    payload["newNonEssentialEnvs"] = [
        {"key": "NEW_FEATURE", "value": "false"},
        {"key": "THEME", "value": "light"},
    ]
    task_id = await backend_tasks.add_task("deploy", payload)

    assert await make_agent().run_once() is OnceExit.COMPLETED

    assert (await backend_tasks.task(task_id)).status == "completed"
    async with backend_sessions() as session:
        rows = (await session.exec(select(NonEssentialEnv))).all()
    assert {row.key: row.value for row in rows} == {"THEME": "light"}
    notes = [line.line for line in await backend_tasks.log_lines(task_id)]
    assert "could not add the variable NEW_FEATURE: POST /internal/config: HTTP 503" in notes
    assert "non-essential variable THEME added" in notes
    # What the agent met: a temporary refusal with Retry-After, never a 500.
    async with httpx.AsyncClient(base_url=backend_server.base_url) as client:
        answer = await client.post(
            "/internal/config",
            json={"key": "NEW_FEATURE", "value": "false"},
            headers={"X-Agent-Secret": AGENT_SECRET},
        )
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "5"
    assert answer.json()["error"] == "service_unavailable"


async def test_the_commands_output_reaches_the_backend_in_order_with_its_stream(
    backend_tasks: BackendTasks, make_agent: AgentFactory, helm_stand_in: StandInFactory
) -> None:
    helm = helm_stand_in(HELM4_VERSION)
    helm.play(
        "upgrade",
        stdout=release_json(3, "2.3.0"),
        stderr="W1123 warning: skipped value for agent.replicas\nW1123 second warning\n",
    )
    task_id = await backend_tasks.add_task("deploy", await deploy_payload(backend_tasks))

    assert await make_agent().run_once() is OnceExit.COMPLETED

    lines = await backend_tasks.log_lines(task_id)
    stderr = [line.line for line in lines if line.stream == "stderr"]
    assert stderr == ["W1123 warning: skipped value for agent.replicas", "W1123 second warning"]
    agent_notes = [line.line for line in lines if line.stream == "agent"]
    assert agent_notes[0].startswith(f"deploy task {task_id} picked up")
    assert agent_notes[-1].startswith("task completed")


async def test_nul_characters_in_the_output_reach_the_backend_replaced(
    backend_tasks: BackendTasks, make_agent: AgentFactory, helm_stand_in: StandInFactory
) -> None:
    helm = helm_stand_in(HELM4_VERSION)
    helm.play("upgrade", exit_code=1, stderr="Error: UPGRADE FAILED: bad\x00byte\n")
    task_id = await backend_tasks.add_task("deploy", await deploy_payload(backend_tasks))

    assert await make_agent().run_once() is OnceExit.FAILED

    stderr = [
        line.line for line in await backend_tasks.log_lines(task_id) if line.stream == "stderr"
    ]
    assert stderr == ["Error: UPGRADE FAILED: bad\ufffdbyte"]
    task = await backend_tasks.task(task_id)
    assert task.status == "failed"
    assert task.error_message is not None
    assert task.error_message.endswith("Error: UPGRADE FAILED: bad\ufffdbyte")


async def test_heartbeats_keep_a_long_task_alive_past_the_backend_timeout(
    backend_tasks: BackendTasks,
    make_agent: AgentFactory,
    helm_stand_in: StandInFactory,
    backend_settings: BackendSettings,
    gcc_clock: ManualClock,
) -> None:
    helm = helm_stand_in(HELM4_VERSION)
    helm.play("upgrade", stdout=release_json(4, "2.3.0"), hold=True)
    task_id = await backend_tasks.add_task("deploy", await deploy_payload(backend_tasks))
    agent = make_agent(heartbeat_interval=0.1)
    running = asyncio.create_task(agent.run_once())
    await wait_for(lambda: helm.started_file.exists())
    picked_up_at = (await backend_tasks.task(task_id)).picked_up_at
    assert picked_up_at is not None

    # 40 minutes after the pick-up, in two steps, each followed by a heartbeat: the backend's
    # 30-minute timeout counts from the last heartbeat, so the task lives on.
    for _ in range(2):
        moved_to = gcc_clock.advance(timedelta(minutes=20))
        await wait_for_heartbeat_after(backend_tasks, task_id, moved_to)
    async with backend_tasks.sessions() as session:
        timed_out = await time_out_stalled_tasks(
            session, clock=gcc_clock, settings=backend_settings
        )
        await session.commit()
    assert timed_out == 0
    assert gcc_clock.now() - picked_up_at > timedelta(minutes=30)

    helm.release()
    assert await running is OnceExit.COMPLETED
    assert (await backend_tasks.task(task_id)).status == "completed"


async def test_work_stops_when_the_backend_no_longer_counts_the_task_as_running(
    backend_tasks: BackendTasks, make_agent: AgentFactory, helm_stand_in: StandInFactory
) -> None:
    helm = helm_stand_in(HELM4_VERSION)
    helm.play("upgrade", stdout=release_json(4, "2.3.0"), hold=True)
    task_id = await backend_tasks.add_task("deploy", await deploy_payload(backend_tasks))
    agent = make_agent(heartbeat_interval=0.1)
    running = asyncio.create_task(agent.run_once())
    await wait_for(lambda: helm.started_file.exists())

    async with backend_tasks.sessions() as session:
        await session.exec(
            update(AgentTask)
            .where(AgentTask.id == task_id)  # type: ignore[arg-type]
            .values(status=str(AgentTaskStatus.CANCELLED))
        )
        await session.commit()

    assert await asyncio.wait_for(running, timeout=10) is OnceExit.FAILED
    assert agent.last_outcome.kind is TaskOutcomeKind.ABANDONED
    assert (await backend_tasks.task(task_id)).status == "cancelled"


async def test_a_stop_request_lets_the_running_step_finish_and_reports_the_truth(
    backend_tasks: BackendTasks, make_agent: AgentFactory, helm_stand_in: StandInFactory
) -> None:
    helm = helm_stand_in(HELM4_VERSION)
    helm.play("upgrade", stdout=release_json(8, "2.3.0"), hold=True)
    task_id = await backend_tasks.add_task("deploy", await deploy_payload(backend_tasks))
    agent = make_agent(shutdown_grace_period=10)
    running = asyncio.create_task(agent.run())
    await wait_for(lambda: helm.started_file.exists())

    agent.control.request_stop()
    await asyncio.sleep(0.3)
    assert not running.done()  # the running step goes on within the grace period
    helm.release()
    await asyncio.wait_for(running, timeout=10)

    task = await backend_tasks.task(task_id)
    assert task.status == "completed"
    assert task.result is not None
    assert task.result["helmRevision"] == 8


@pytest.fixture
def expired_backend(
    backend_settings: BackendSettings,
    gcc_clock: ManualClock,
    backend_task_recorder: TaskRecorder,
    backend_tasks: BackendTasks,
) -> Iterator[ServedApp]:
    """The same backend (database, bucket, clock) with a license that expired in January."""
    settings = backend_settings.model_copy(
        update={"license_expires_at": datetime(2026, 1, 1, tzinfo=UTC)}
    )
    served = ServedApp(create_app(settings, clock=gcc_clock, send_task=backend_task_recorder))
    served.start()
    yield served
    served.stop()


async def test_an_expired_license_fails_the_task_before_anything_runs(
    backend_tasks: BackendTasks,
    expired_backend: ServedApp,
    make_agent: AgentFactory,
    helm_stand_in: StandInFactory,
) -> None:
    helm = helm_stand_in(HELM4_VERSION)
    task_id = await backend_tasks.add_task("deploy", await deploy_payload(backend_tasks))

    agent = make_agent(backend_url=expired_backend.base_url)
    assert await agent.run_once() is OnceExit.FAILED

    task = await backend_tasks.task(task_id)
    assert task.error_message == "License expired (expired 2026-01-01T00:00:00+00:00)"
    assert helm.calls() == []
    assert agent.last_outcome.update.retryable is False


async def wait_for(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("the condition did not come true in time")
        await asyncio.sleep(0.02)


async def wait_for_heartbeat_after(
    backend_tasks: BackendTasks, task_id: Any, moment: datetime, timeout: float = 10.0
) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        task = await backend_tasks.task(task_id)
        if task.last_heartbeat_at is not None and task.last_heartbeat_at >= moment:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("no heartbeat arrived")
        await asyncio.sleep(0.05)
