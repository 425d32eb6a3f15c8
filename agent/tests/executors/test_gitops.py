"""GitOps delivery end to end: the real helm renders, a real Git working copy commits and
pushes to a bare remote, tasks come from the real customer backend."""

import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agent.tests.support.backend_tasks import BackendTasks, bundle
from agent.tests.support.git_repositories import git, make_working_copy
from contracts import ArtifactType, DeploymentType, Version
from wrktalk_agent.agent import OnceExit
from wrktalk_agent.manifests import VersionHistory

IMAGE_TAGS = {"backend": "sha-b23", "media": "sha-m23", "controlTower": "sha-c23", "agent": "a23"}
OLD_TAGS = {"backend": "sha-b22", "media": "sha-m22", "controlTower": "sha-c22", "agent": "a22"}

AgentFactory = Callable[..., Any]


@pytest.fixture
def working_copy(tmp_path: Path) -> Path:
    """A working copy on branch main with one commit, cloned from a bare remote."""
    return make_working_copy(tmp_path)


async def store(
    backend_tasks: BackendTasks, charts: dict[str, Path], version: str, tags: dict[str, str]
) -> dict[str, Any]:
    chart = await backend_tasks.put(
        f"artifacts/helm/wrktalk-{version}.tgz", charts[version].read_bytes()
    )
    values = await backend_tasks.put("config/values.r2.yaml", b"secretKey: from-values\n")
    return bundle(version, chart, artifact_type=ArtifactType.HELM, image_tags=tags, values=values)


async def deploy_2_3_0(
    backend_tasks: BackendTasks,
    helm_charts: dict[str, Path],
    make_agent: AgentFactory,
    working_copy: Path,
) -> tuple[uuid.UUID, Any]:
    """Queue a deploy of 2.3.0, let a GitOps agent run it once; the task, completed."""
    task_id = await backend_tasks.add_task(
        "deploy", await store(backend_tasks, helm_charts, "2.3.0", IMAGE_TAGS)
    )
    agent = make_agent(deployment_type=DeploymentType.GITOPS, gitops_repo=str(working_copy))
    assert await agent.run_once() is OnceExit.COMPLETED
    task = await backend_tasks.task(task_id)
    assert task.status == "completed", task.error_message
    return task_id, task


async def test_a_deploy_renders_commits_and_pushes_the_manifests(
    backend_tasks: BackendTasks,
    helm_charts: dict[str, Path],
    make_agent: AgentFactory,
    working_copy: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", "/dev/null")  # no identity anywhere: the default
    (working_copy / "wrktalk").mkdir()
    (working_copy / "wrktalk" / "stale.yaml").write_text("kind: ConfigMap\n")
    git(working_copy, "add", "wrktalk")
    git(working_copy, "commit", "--quiet", "-m", "An old template")
    task_id, task = await deploy_2_3_0(backend_tasks, helm_charts, make_agent, working_copy)

    assert task.result is not None
    commit_id = task.result["commitId"]
    assert task.result["releaseVersion"] == "2.3.0"
    assert git(working_copy, "rev-parse", "HEAD") == commit_id
    assert git(working_copy.parent / "remote.git", "rev-parse", "main") == commit_id
    assert git(working_copy, "log", "-1", "--format=%s") == f"Deploy wrktalk 2.3.0 (task {task_id})"
    assert git(working_copy, "log", "-1", "--format=%an <%ae>") == (
        "WrkTalk Agent <agent@wrktalk.invalid>"
    )
    rendered = (working_copy / "wrktalk" / "templates" / "deployments.yaml").read_text()
    assert "ghcr.io/wrktalk/controltower:sha-c23" in rendered
    assert 'app.kubernetes.io/version: "2.3.0"' in rendered
    assert not (working_copy / "wrktalk" / "stale.yaml").exists()
    assert git(working_copy, "status", "--porcelain") == ""


async def test_a_deploy_after_a_killed_commit_removes_the_stale_locks(
    backend_tasks: BackendTasks,
    helm_charts: dict[str, Path],
    make_agent: AgentFactory,
    working_copy: Path,
) -> None:
    # what an agent killed in the middle of `git commit` leaves behind
    (working_copy / ".git" / "index.lock").write_bytes(b"")
    (working_copy / ".git" / "refs" / "heads" / "main.lock").write_text("0" * 40 + "\n")
    with pytest.raises(subprocess.CalledProcessError):
        git(working_copy, "add", "README.md")
    task_id, task = await deploy_2_3_0(backend_tasks, helm_charts, make_agent, working_copy)

    assert task.result is not None
    assert git(working_copy, "rev-parse", "HEAD") == task.result["commitId"]
    assert not list((working_copy / ".git").rglob("*.lock"))
    logged = "\n".join(entry.line for entry in await backend_tasks.log_lines(task_id))
    assert "index.lock left behind by an interrupted git command" in logged


@pytest.mark.parametrize("to_previous", [False, True], ids=["named", "previous"])
async def test_a_rollback_renders_the_older_version_and_commits_it(
    backend_tasks: BackendTasks,
    helm_charts: dict[str, Path],
    make_agent: AgentFactory,
    working_copy: Path,
    to_previous: bool,
) -> None:
    # A rollback to the previous version names no target at the API; the backend names it.
    git(working_copy, "config", "user.name", "Cluster Ops")
    git(working_copy, "config", "user.email", "ops@acme.example")
    agent = make_agent(deployment_type=DeploymentType.GITOPS, gitops_repo=str(working_copy))
    # 2.2.0 ran here before 2.3.0, so the agent takes a rollback to it.
    VersionHistory(agent.settings.state_dir).record(Version.parse("2.2.0"))
    await backend_tasks.add_task(
        "deploy", await store(backend_tasks, helm_charts, "2.3.0", IMAGE_TAGS)
    )
    assert await agent.run_once() is OnceExit.COMPLETED
    deployed = git(working_copy, "rev-parse", "HEAD")
    release = await store(backend_tasks, helm_charts, "2.2.0", OLD_TAGS)
    task_id = await backend_tasks.add_task(
        "rollback", {"targetVersion": "2.2.0", "release": release, "toPrevious": to_previous}
    )

    assert await agent.run_once() is OnceExit.COMPLETED

    task = await backend_tasks.task(task_id)
    assert task.result is not None
    commit_id = task.result["commitId"]
    assert git(working_copy, "rev-parse", "HEAD~1") == deployed
    assert git(working_copy.parent / "remote.git", "rev-parse", "main") == commit_id
    assert git(working_copy, "log", "-1", "--format=%s") == (
        f"Roll back wrktalk to 2.2.0 (task {task_id})"
    )
    assert git(working_copy, "log", "-1", "--format=%an <%ae>") == "Cluster Ops <ops@acme.example>"
    rendered = (working_copy / "wrktalk" / "templates" / "deployments.yaml").read_text()
    assert "ghcr.io/wrktalk/backend:sha-b22" in rendered


async def test_rendering_the_same_release_again_reuses_the_commit(
    backend_tasks: BackendTasks,
    helm_charts: dict[str, Path],
    make_agent: AgentFactory,
    working_copy: Path,
) -> None:
    agent = make_agent(deployment_type=DeploymentType.GITOPS, gitops_repo=str(working_copy))
    payload = await store(backend_tasks, helm_charts, "2.3.0", IMAGE_TAGS)
    first = await backend_tasks.add_task("deploy", payload)
    assert await agent.run_once() is OnceExit.COMPLETED
    second = await backend_tasks.add_task("deploy", payload)
    assert await agent.run_once() is OnceExit.COMPLETED

    first_result = (await backend_tasks.task(first)).result
    second_result = (await backend_tasks.task(second)).result
    assert first_result is not None
    assert second_result is not None
    assert second_result["commitId"] == first_result["commitId"]
    assert second_result["message"] == "manifests of 2.3.0 unchanged"


async def test_a_rollback_by_helm_revision_is_refused_for_gitops(
    backend_tasks: BackendTasks, make_agent: AgentFactory, working_copy: Path
) -> None:
    task_id = await backend_tasks.add_task("rollback", {"targetRevision": 2})
    agent = make_agent(deployment_type=DeploymentType.GITOPS, gitops_repo=str(working_copy))
    assert await agent.run_once() is OnceExit.FAILED
    task = await backend_tasks.task(task_id)
    assert task.error_message == "a GitOps deployment rolls back by version, not by Helm revision"
