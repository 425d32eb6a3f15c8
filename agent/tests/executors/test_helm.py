"""Helm delivery: the real helm where no cluster is needed, a recorded stand-in where it is.

Every task here goes through the real customer backend: claimed over HTTP with presigned URLs
to its moto bucket, heartbeats, log batches and the final status.
"""

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agent.tests.support.backend_tasks import BackendTasks, StoredFile, bundle
from agent.tests.support.helm_stand_in import (
    HELM3_INSTALL_IMAGE_PULL_FAILED,
    HELM3_ROLLED_BACK,
    HELM3_VERSION,
    HELM4_IMAGE_PULL_FAILED,
    HELM4_ROLLED_BACK,
    HELM4_VERSION,
    INVALID_CHART,
    ROLLBACK_DONE,
    HelmStandIn,
    history,
    release_json,
)
from contracts import ArtifactType
from wrktalk_agent.agent import OnceExit

IMAGE_TAGS = {"backend": "sha-b", "media": "sha-m", "controlTower": "sha-c", "agent": "1e10"}
VALUES = b"secretKey: hunter2\nreplicaCount: 2\n"

AgentFactory = Callable[..., Any]
StandInFactory = Callable[[str], HelmStandIn]


async def store_release(
    backend_tasks: BackendTasks, helm_charts: dict[str, Path], version: str
) -> tuple[dict[str, Any], StoredFile, StoredFile]:
    chart = await backend_tasks.put(
        f"artifacts/helm/wrktalk-{version}.tgz", helm_charts[version].read_bytes()
    )
    values = await backend_tasks.put("config/values.r1.yaml", VALUES)
    stored = bundle(
        version, chart, artifact_type=ArtifactType.HELM, image_tags=IMAGE_TAGS, values=values
    )
    return stored, chart, values


def expected_upgrade(chart_path: str, values_path: str, atomic_flag: str) -> list[str]:
    return [
        "upgrade",
        "--install",
        "wrktalk",
        chart_path,
        "--namespace",
        "wrktalk",
        "--values",
        values_path,
        "--set-string",
        "agent.image.tag=1e10",
        "--set-string",
        "backend.image.tag=sha-b",
        "--set-string",
        "controlTower.image.tag=sha-c",
        "--set-string",
        "media.image.tag=sha-m",
        "--wait",
        "--timeout",
        "1m",
        "--output",
        "json",
        atomic_flag,
    ]


def test_the_real_helm_packages_lints_and_templates_the_fixture_chart(
    helm_charts: dict[str, Path], tmp_path: Path
) -> None:
    chart = helm_charts["2.3.0"]
    lint = subprocess.run(["helm", "lint", str(chart)], capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    values = tmp_path / "values.yaml"
    values.write_bytes(VALUES)
    rendered = subprocess.run(
        [
            *("helm", "template", "wrktalk", str(chart)),
            *("--values", str(values), "--set-string", "backend.image.tag=sha-b"),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert 'image: "ghcr.io/wrktalk/backend:sha-b"' in rendered
    assert 'SECRET_KEY: "hunter2"' in rendered


async def test_the_exact_upgrade_command_is_accepted_by_the_real_helm(
    backend_tasks: BackendTasks,
    helm_charts: dict[str, Path],
    make_agent: AgentFactory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Helm 4's memory driver and a client-side dry run: the real helm parses the command line,
    # loads the chart and values and renders the release, with no cluster anywhere.
    memory = tmp_path / "releases.yaml"
    memory.write_text("---\n")
    monkeypatch.setenv("HELM_DRIVER", "memory")
    monkeypatch.setenv("HELM_MEMORY_DRIVER_DATA", str(memory))
    stored, _, _ = await store_release(backend_tasks, helm_charts, "2.3.0")
    task_id = await backend_tasks.add_task("deploy", stored)

    agent = make_agent(helm_dry_run=True)
    assert await agent.run_once() is OnceExit.COMPLETED

    task = await backend_tasks.task(task_id)
    assert task.status == "completed", task.error_message
    assert task.result == {
        "status": "success",
        "releaseVersion": "2.3.0",
        "helmRevision": 1,
        "commitId": None,
        "rolledBackTo": None,
        "appVersion": "2.3.0",
        "message": "helm upgrade of wrktalk to 2.3.0 succeeded",
    }
    lines = [line.line for line in await backend_tasks.log_lines(task_id)]
    upgrade = next(line for line in lines if line.startswith("$ helm upgrade"))
    assert "--rollback-on-failure --dry-run=client" in upgrade
    # helm's JSON output holds the values: it is read, never logged.
    assert not any("hunter2" in line for line in lines)


@pytest.mark.parametrize(
    ("version", "atomic_flag"),
    [(HELM3_VERSION, "--atomic"), (HELM4_VERSION, "--rollback-on-failure")],
)
async def test_a_deploy_runs_the_exact_helm_command_for_each_helm_major(
    backend_tasks: BackendTasks,
    helm_charts: dict[str, Path],
    make_agent: AgentFactory,
    helm_stand_in: StandInFactory,
    version: str,
    atomic_flag: str,
) -> None:
    helm = helm_stand_in(version)
    helm.play("upgrade", stdout=release_json(5, "2.3.0"))
    stored, _, _ = await store_release(backend_tasks, helm_charts, "2.3.0")
    task_id = await backend_tasks.add_task("deploy", stored)

    assert await make_agent().run_once() is OnceExit.COMPLETED

    calls = helm.calls()
    assert calls[0] == ["version", "--template", "{{.Version}}"]
    upgrade = calls[1]
    chart_path, values_path = upgrade[3], upgrade[7]
    assert chart_path.endswith("release-wrktalk-2.3.0.tgz")
    assert values_path.endswith("release-values.r1.yaml")
    assert upgrade == expected_upgrade(chart_path, values_path, atomic_flag)
    assert len(calls) == 2
    task = await backend_tasks.task(task_id)
    assert task.status == "completed"
    assert task.result is not None
    assert task.result["helmRevision"] == 5
    assert task.result["appVersion"] == "2.3.0"
    # The downloaded chart and values were wiped after the task.
    assert not Path(chart_path).exists()
    assert not Path(values_path).parent.exists()
    lines = [line.line for line in await backend_tasks.log_lines(task_id)]
    assert not any("hunter2" in line for line in lines)


async def test_the_revision_comes_from_helm_history_when_the_output_is_not_json(
    backend_tasks: BackendTasks,
    helm_charts: dict[str, Path],
    make_agent: AgentFactory,
    helm_stand_in: StandInFactory,
) -> None:
    helm = helm_stand_in(HELM4_VERSION)
    helm.play("upgrade", stdout='Release "wrktalk" has been upgraded. Happy Helming!\n')
    helm.play("history", stdout=history(7, "2.3.0"))
    stored, _, _ = await store_release(backend_tasks, helm_charts, "2.3.0")
    task_id = await backend_tasks.add_task("deploy", stored)

    assert await make_agent().run_once() is OnceExit.COMPLETED

    assert helm.calls()[2] == [
        "history",
        "wrktalk",
        "--namespace",
        "wrktalk",
        "--max",
        "1",
        "--output",
        "json",
    ]
    task = await backend_tasks.task(task_id)
    assert task.result is not None
    assert task.result["helmRevision"] == 7


@pytest.mark.parametrize(
    ("version", "stderr", "retryable"),
    [(HELM3_VERSION, HELM3_ROLLED_BACK, True), (HELM4_VERSION, HELM4_ROLLED_BACK, False)],
)
async def test_a_failed_upgrade_that_helm_rolled_back_is_reported_rolled_back(
    backend_tasks: BackendTasks,
    helm_charts: dict[str, Path],
    make_agent: AgentFactory,
    helm_stand_in: StandInFactory,
    version: str,
    stderr: str,
    retryable: bool,
) -> None:
    helm = helm_stand_in(version)
    helm.play("upgrade", exit_code=1, stderr=stderr)
    stored, _, _ = await store_release(backend_tasks, helm_charts, "2.3.0")
    previous, _, _ = await store_release(backend_tasks, helm_charts, "2.2.0")
    task_id = await backend_tasks.add_task("deploy", {**stored, "previous": previous})

    agent = make_agent()
    assert await agent.run_once() is OnceExit.FAILED

    task = await backend_tasks.task(task_id)
    assert task.status == "failed"
    assert task.error_message is not None
    assert task.error_message.startswith(
        "helm upgrade to 2.3.0 failed; helm rolled the release back"
    )
    assert stderr.strip() in task.error_message
    assert task.result is not None
    assert task.result["status"] == "rolledBack"
    assert task.result["rolledBackTo"] == "2.2.0"
    assert agent_report_retryable(agent) is retryable


def agent_report_retryable(agent: Any) -> bool:
    """The retryable flag of the last status the agent sent (the backend keeps no column)."""
    return bool(agent.last_outcome.update.retryable)


async def test_an_invalid_chart_fails_without_retry_and_with_helms_words(
    backend_tasks: BackendTasks,
    helm_charts: dict[str, Path],
    make_agent: AgentFactory,
    helm_stand_in: StandInFactory,
) -> None:
    helm = helm_stand_in(HELM4_VERSION)
    helm.play("upgrade", exit_code=1, stderr=INVALID_CHART)
    stored, _, _ = await store_release(backend_tasks, helm_charts, "2.3.0")
    task_id = await backend_tasks.add_task("deploy", stored)

    agent = make_agent()
    assert await agent.run_once() is OnceExit.FAILED

    task = await backend_tasks.task(task_id)
    assert task.error_message is not None
    assert "nil pointer evaluating interface {}.repository" in task.error_message
    assert task.result is None
    assert agent_report_retryable(agent) is False


@pytest.mark.parametrize("version", [HELM3_VERSION, HELM4_VERSION])
async def test_a_rollback_by_revision_runs_helm_rollback_and_reads_the_new_revision(
    backend_tasks: BackendTasks,
    make_agent: AgentFactory,
    helm_stand_in: StandInFactory,
    version: str,
) -> None:
    helm = helm_stand_in(version)
    helm.play("rollback", stdout=ROLLBACK_DONE)
    helm.play("history", stdout=history(4, "2.2.0", description="Rollback to 3"))
    task_id = await backend_tasks.add_task("rollback", {"targetRevision": 3})

    assert await make_agent().run_once() is OnceExit.COMPLETED

    assert helm.calls() == [
        ["rollback", "wrktalk", "3", "--namespace", "wrktalk", "--wait", "--timeout", "1m"],
        ["history", "wrktalk", "--namespace", "wrktalk", "--max", "1", "--output", "json"],
    ]
    task = await backend_tasks.task(task_id)
    assert task.status == "completed"
    assert task.result is not None
    assert task.result["helmRevision"] == 4
    assert task.result["releaseVersion"] == "2.2.0"


async def test_a_rollback_to_the_previous_revision_runs_helm_rollback_without_a_revision(
    backend_tasks: BackendTasks,
    make_agent: AgentFactory,
    helm_stand_in: StandInFactory,
) -> None:
    helm = helm_stand_in(HELM4_VERSION)
    helm.play("rollback", stdout=ROLLBACK_DONE)
    helm.play("history", stdout=history(5, "2.2.0", description="Rollback to 4"))
    task_id = await backend_tasks.add_task(
        "rollback", {"targetRevision": None, "targetVersion": None, "toPrevious": True}
    )

    assert await make_agent().run_once() is OnceExit.COMPLETED

    assert helm.calls()[0] == [
        "rollback",
        "wrktalk",
        "--namespace",
        "wrktalk",
        "--wait",
        "--timeout",
        "1m",
    ]
    task = await backend_tasks.task(task_id)
    assert task.status == "completed"
    assert task.result is not None
    assert (task.result["helmRevision"], task.result["releaseVersion"]) == (5, "2.2.0")
    assert task.result["message"] == "rolled wrktalk back to the previous revision"


async def test_a_rollback_by_version_upgrades_with_that_versions_chart_and_values(
    backend_tasks: BackendTasks,
    helm_charts: dict[str, Path],
    make_agent: AgentFactory,
    helm_stand_in: StandInFactory,
) -> None:
    helm = helm_stand_in(HELM4_VERSION)
    helm.play("upgrade", stdout=release_json(6, "2.2.0"))
    release, _, _ = await store_release(backend_tasks, helm_charts, "2.2.0")
    task_id = await backend_tasks.add_task(
        "rollback", {"targetVersion": "2.2.0", "release": release}
    )

    assert await make_agent().run_once() is OnceExit.COMPLETED

    upgrade = helm.calls()[1]
    assert upgrade == expected_upgrade(upgrade[3], upgrade[7], "--rollback-on-failure")
    assert upgrade[3].endswith("wrktalk-2.2.0.tgz")
    task = await backend_tasks.task(task_id)
    assert task.result is not None
    assert (task.result["releaseVersion"], task.result["helmRevision"]) == ("2.2.0", 6)


async def test_an_image_that_cannot_be_pulled_fails_with_helms_words_and_a_hint(
    backend_tasks: BackendTasks,
    helm_charts: dict[str, Path],
    make_agent: AgentFactory,
    helm_stand_in: StandInFactory,
) -> None:
    helm = helm_stand_in(HELM4_VERSION)
    helm.play("upgrade", exit_code=1, stderr=HELM4_IMAGE_PULL_FAILED)
    stored, _, _ = await store_release(backend_tasks, helm_charts, "2.3.0")
    previous, _, _ = await store_release(backend_tasks, helm_charts, "2.2.0")
    task_id = await backend_tasks.add_task("deploy", {**stored, "previous": previous})

    assert await make_agent().run_once() is OnceExit.FAILED

    task = await backend_tasks.task(task_id)
    assert task.status == "failed"
    assert task.error_message is not None
    assert task.error_message.startswith(
        "helm upgrade to 2.3.0 failed; helm rolled the release back (the pods did not become "
        "ready in time; an image that cannot be pulled ends this way: check imagePullSecrets"
    )
    assert "resource Deployment/wrktalk/wrktalk-media not ready" in task.error_message
    assert task.result is not None
    assert task.result["status"] == "rolledBack"
    assert task.result["rolledBackTo"] == "2.2.0"


async def test_a_first_install_whose_image_cannot_be_pulled_fails_without_a_rollback(
    backend_tasks: BackendTasks,
    helm_charts: dict[str, Path],
    make_agent: AgentFactory,
    helm_stand_in: StandInFactory,
) -> None:
    helm = helm_stand_in(HELM3_VERSION)
    helm.play("upgrade", exit_code=1, stderr=HELM3_INSTALL_IMAGE_PULL_FAILED)
    stored, _, _ = await store_release(backend_tasks, helm_charts, "2.3.0")
    task_id = await backend_tasks.add_task("deploy", stored)

    assert await make_agent().run_once() is OnceExit.FAILED

    task = await backend_tasks.task(task_id)
    assert task.error_message is not None
    assert "has been uninstalled due to atomic being set" in task.error_message
    assert "check imagePullSecrets" in task.error_message
    assert task.result is None
