"""Maintenance mode an admin switches (seed 001), end to end: the admin asks the served backend,
the agent applies it on its next poll with the hook it uses around a deployment, reports it
applied, and a deployment afterwards (by this agent or one started afresh) leaves it on."""

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent.tests.support.backend_tasks import BackendTasks, bundle
from agent.tests.support.helm_stand_in import HELM4_VERSION, HelmStandIn, release_json
from contracts import ArtifactType
from wrktalk_agent.agent import OnceExit

AgentFactory = Callable[..., Any]
StandInFactory = Callable[[str], HelmStandIn]
MAINTENANCE = "/api/admin/maintenance"
IMAGE_TAGS = {"backend": "sha-b", "media": "sha-m", "controlTower": "sha-c", "agent": "sha-a"}

RECORDER = """import sys, pathlib
flag, record = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
with record.open("a") as out:
    out.write(("on" if flag.exists() else "off") + "\\n")
"""


@pytest.fixture
def hook(tmp_path: Path) -> dict[str, Any]:
    """Agent settings that switch maintenance mode with a flag file and a recording command,
    and where to look."""
    recorder = tmp_path / "maintenance.py"
    recorder.write_text(RECORDER)
    flag = tmp_path / "proxy" / "maintenance-mode"
    record = tmp_path / "maintenance.log"
    return {
        "settings": {
            "maintenance_flag_file": str(flag),
            "maintenance_command": f"{sys.executable} {recorder} {flag} {record}",
        },
        "flag": flag,
        "record": record,
    }


async def switch(client: httpx.AsyncClient, admin: Any, enabled: bool) -> dict[str, Any]:
    response = await client.put(MAINTENANCE, json={"enabled": enabled}, headers=admin.headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def state(client: httpx.AsyncClient, admin: Any) -> dict[str, Any]:
    return dict((await client.get(MAINTENANCE, headers=admin.headers)).json())


async def test_an_admins_switch_is_applied_on_the_next_poll_and_reported(
    backend_client: httpx.AsyncClient,
    admin_factory: Any,
    backend_tasks: BackendTasks,
    make_agent: AgentFactory,
    hook: dict[str, Any],
) -> None:
    admin = await admin_factory()
    agent = make_agent(**hook["settings"])

    switched_on = await switch(backend_client, admin, True)
    assert await agent.run_once() is OnceExit.COMPLETED

    assert hook["flag"].exists()
    assert hook["record"].read_text() == "on\n"
    applied = await state(backend_client, admin)
    assert (applied["enabled"], applied["isApplied"]) == (True, True)
    task_id = switched_on["current"]["taskId"]
    notes = [line.line for line in await backend_tasks.log_lines(task_id)]
    assert "maintenance mode on" in notes

    await switch(backend_client, admin, False)
    assert await agent.run_once() is OnceExit.COMPLETED

    assert not hook["flag"].exists()
    assert hook["record"].read_text() == "on\noff\n"
    assert (await state(backend_client, admin))["isApplied"] is True


async def test_a_deployment_leaves_maintenance_on_while_an_admin_holds_it_even_after_a_restart(
    backend_client: httpx.AsyncClient,
    admin_factory: Any,
    backend_tasks: BackendTasks,
    make_agent: AgentFactory,
    helm_stand_in: StandInFactory,
    hook: dict[str, Any],
) -> None:
    admin = await admin_factory()
    await switch(backend_client, admin, True)
    assert await make_agent(**hook["settings"]).run_once() is OnceExit.COMPLETED
    helm = helm_stand_in(HELM4_VERSION)
    helm.play("upgrade", stdout=release_json(2, "2.3.0"))
    chart = await backend_tasks.put("artifacts/helm/wrktalk-2.3.0.tgz", b"chart-2.3.0")
    task_id = await backend_tasks.add_task(
        "deploy", bundle("2.3.0", chart, artifact_type=ArtifactType.HELM, image_tags=IMAGE_TAGS)
    )

    # A new agent process: it remembers nothing; the backend says maintenance is held.
    assert await make_agent(**hook["settings"]).run_once() is OnceExit.COMPLETED

    assert hook["flag"].exists()
    assert hook["record"].read_text() == "on\non\n"
    notes = [line.line for line in await backend_tasks.log_lines(task_id)]
    assert "maintenance mode stays on: an admin switched it on" in notes
    assert "maintenance mode off" not in notes
    assert (await backend_tasks.task(task_id)).status == "completed"


async def test_an_agent_without_a_maintenance_hook_fails_the_switch_and_the_admins_hear_of_it(
    backend_client: httpx.AsyncClient,
    admin_factory: Any,
    backend_tasks: BackendTasks,
    make_agent: AgentFactory,
) -> None:
    admin = await admin_factory()
    switched_on = await switch(backend_client, admin, True)

    assert await make_agent().run_once() is OnceExit.FAILED

    task = await backend_tasks.task(switched_on["current"]["taskId"])
    assert task.status == "failed"
    assert task.retryable is False
    assert task.error_message is not None
    assert "WRKTALK_AGENT_MAINTENANCE_FLAG_FILE" in task.error_message
    assert (await state(backend_client, admin))["isApplied"] is False
