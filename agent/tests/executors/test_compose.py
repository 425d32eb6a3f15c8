"""Docker Compose delivery for real: dockerd, the loopback registry, images pulled and run,
tasks claimed from the real customer backend. Debian ships Compose v1 only, so the v2 command
lines are checked against a recording stand-in ``docker``."""

import io
import stat
import tarfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agent.tests.support.artifacts import compose_bundle
from agent.tests.support.backend_tasks import BackendTasks, bundle
from agent.tests.support.docker_engine import DockerEngine
from agent.tests.support.helm_stand_in import install_recorder, path_with
from contracts import ArtifactType, DeploymentType, Version, parse_version
from wrktalk_agent.agent import OnceExit
from wrktalk_agent.commands import CommandRunner
from wrktalk_agent.executors.base import ExecutionContext, LocalRelease
from wrktalk_agent.executors.compose import ComposeExecutor
from wrktalk_agent.manifests import VersionHistory
from wrktalk_agent.settings import Settings

AgentFactory = Callable[..., Any]
ESSENTIAL_ENV = b"SECRET_KEY=from-the-bucket\nLOG_LEVEL=debug\n"
VERSION_TAGS = {"2.2.0": "v1", "2.3.0": "v2", "2.4.0": "crash", "2.5.0": "missing"}
RUNNING = (
    '[{"Name": "/wt_backend_1", "State": {"Status": "running", "Running": true, '
    '"Restarting": false, "ExitCode": 0, "Health": {"Status": "healthy"}}, '
    '"Config": {"Labels": {"com.docker.compose.service": "backend"}}}]'
)


async def release(backend_tasks: BackendTasks, registry: str, version: str) -> dict[str, Any]:
    chart = await backend_tasks.put(
        f"artifacts/compose/wrktalk-{version}-compose.tar.gz", compose_bundle(registry)
    )
    env = await backend_tasks.put("config/env.r1", ESSENTIAL_ENV)
    return bundle(
        version,
        chart,
        artifact_type=ArtifactType.COMPOSE,
        image_tags={"backend": VERSION_TAGS[version]},
        env=env,
    )


def containers(engine: DockerEngine, project: str) -> list[tuple[str, str, str]]:
    """(id, image, state) of the project's containers."""
    output = engine.docker(
        "ps",
        "--all",
        "--filter",
        f"label=com.docker.compose.project={project}",
        "--format",
        "{{.ID}} {{.Image}} {{.State}}",
    )
    return [tuple(line.split()) for line in output.splitlines()]  # type: ignore[misc]


def compose_agent(make_agent: AgentFactory, project: str) -> Any:
    return make_agent(deployment_type=DeploymentType.DOCKER, compose_project_name=project)


async def deploy(
    agent: Any, backend_tasks: BackendTasks, payload: dict[str, Any]
) -> tuple[OnceExit, Any]:
    task_id = await backend_tasks.add_task("deploy", payload)
    code = await agent.run_once()
    return code, await backend_tasks.task(task_id)


async def test_a_deploy_runs_the_release_with_the_image_tags_of_the_task(
    backend_tasks: BackendTasks,
    make_agent: AgentFactory,
    docker_engine: DockerEngine,
    compose_project: str,
) -> None:
    agent = compose_agent(make_agent, compose_project)
    code, task = await deploy(
        agent, backend_tasks, await release(backend_tasks, docker_engine.registry, "2.2.0")
    )

    assert code is OnceExit.COMPLETED, task.error_message
    assert task.result == {
        "status": "success",
        "releaseVersion": "2.2.0",
        "helmRevision": None,
        "commitId": None,
        "rolledBackTo": None,
        "appVersion": None,
        "message": f"compose project {compose_project} runs 2.2.0",
    }
    [(identifier, image, state)] = containers(docker_engine, compose_project)
    assert (image, state) == (docker_engine.image("v1"), "running")
    environment = docker_engine.docker("inspect", "--format", "{{json .Config.Env}}", identifier)
    assert "SECRET_KEY=from-the-bucket" in environment
    [release_dir] = (Path(agent.settings.compose_working_dir) / "releases").iterdir()
    env_file = release_dir / "wrktalk" / ".env"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    assert env_file.read_text() == (
        "LOG_LEVEL=debug\nSECRET_KEY=from-the-bucket\nBACKEND_IMAGE_TAG=v1\n"
    )
    lines = [line.line for line in await backend_tasks.log_lines(task.id)]
    assert any("docker-compose" in line and " pull" in line for line in lines)
    assert any(line.endswith("up -d --remove-orphans") for line in lines)


async def test_a_tag_that_does_not_exist_fails_the_pull_and_changes_nothing(
    backend_tasks: BackendTasks,
    make_agent: AgentFactory,
    docker_engine: DockerEngine,
    compose_project: str,
) -> None:
    agent = compose_agent(make_agent, compose_project)
    running = await release(backend_tasks, docker_engine.registry, "2.2.0")
    code, _ = await deploy(agent, backend_tasks, running)
    assert code is OnceExit.COMPLETED
    before = containers(docker_engine, compose_project)

    payload = {**await release(backend_tasks, docker_engine.registry, "2.5.0"), "previous": running}
    code, task = await deploy(agent, backend_tasks, payload)

    assert code is OnceExit.FAILED
    assert task.error_message is not None
    assert task.error_message.startswith("pulling the images of 2.5.0 failed; nothing was changed")
    assert "missing" in task.error_message
    assert task.result is None
    assert containers(docker_engine, compose_project) == before
    releases = sorted(
        path.name for path in (Path(agent.settings.compose_working_dir) / "releases").iterdir()
    )
    assert [name.split("-")[0] for name in releases] == ["2.2.0"]


async def test_a_container_that_exits_fails_the_deploy_and_the_previous_version_returns(
    backend_tasks: BackendTasks,
    make_agent: AgentFactory,
    docker_engine: DockerEngine,
    compose_project: str,
) -> None:
    agent = compose_agent(make_agent, compose_project)
    previous = await release(backend_tasks, docker_engine.registry, "2.2.0")
    payload = {
        **await release(backend_tasks, docker_engine.registry, "2.4.0"),
        "previous": previous,
    }

    code, task = await deploy(agent, backend_tasks, payload)

    assert code is OnceExit.FAILED
    assert task.error_message is not None
    assert "2.4.0 did not come up: backend exited with code 3" in task.error_message
    assert "2.2.0 was re-deployed" in task.error_message
    assert task.result is not None
    assert task.result["status"] == "rolledBack"
    assert task.result["rolledBackTo"] == "2.2.0"
    [(_, image, state)] = containers(docker_engine, compose_project)
    assert (image, state) == (docker_engine.image("v1"), "running")


async def test_with_redeploy_switched_off_a_failed_deploy_is_left_for_the_admin(
    backend_tasks: BackendTasks,
    make_agent: AgentFactory,
    docker_engine: DockerEngine,
    compose_project: str,
) -> None:
    agent = make_agent(
        deployment_type=DeploymentType.DOCKER,
        compose_project_name=compose_project,
        compose_redeploy_previous=False,
    )
    previous = await release(backend_tasks, docker_engine.registry, "2.2.0")
    payload = {
        **await release(backend_tasks, docker_engine.registry, "2.4.0"),
        "previous": previous,
    }

    code, task = await deploy(agent, backend_tasks, payload)

    assert code is OnceExit.FAILED
    assert task.error_message is not None
    assert "2.4.0 did not come up: backend exited with code 3" in task.error_message
    assert "the previous version was not re-deployed" in task.error_message
    assert "manual intervention" in task.error_message
    assert task.result is None
    releases = (Path(agent.settings.compose_working_dir) / "releases").iterdir()
    assert [path.name.split("-")[0] for path in releases] == ["2.4.0"]


@pytest.mark.parametrize("to_previous", [False, True], ids=["named", "previous"])
async def test_a_rollback_by_version_redeploys_that_versions_bundle(
    backend_tasks: BackendTasks,
    make_agent: AgentFactory,
    docker_engine: DockerEngine,
    compose_project: str,
    to_previous: bool,
) -> None:
    # A rollback to the previous version names no target at the API; the backend names it.
    agent = compose_agent(make_agent, compose_project)
    # 2.2.0 ran here before 2.3.0, so the agent takes a rollback to it.
    VersionHistory(agent.settings.state_dir).record(Version.parse("2.2.0"))
    code, _ = await deploy(
        agent, backend_tasks, await release(backend_tasks, docker_engine.registry, "2.3.0")
    )
    assert code is OnceExit.COMPLETED
    [(_, image, _)] = containers(docker_engine, compose_project)
    assert image == docker_engine.image("v2")

    target = await release(backend_tasks, docker_engine.registry, "2.2.0")
    task_id = await backend_tasks.add_task(
        "rollback", {"targetVersion": "2.2.0", "release": target, "toPrevious": to_previous}
    )
    assert await agent.run_once() is OnceExit.COMPLETED

    task = await backend_tasks.task(task_id)
    assert task.result is not None
    assert task.result["releaseVersion"] == "2.2.0"
    [(_, image, state)] = containers(docker_engine, compose_project)
    assert (image, state) == (docker_engine.image("v1"), "running")


async def test_a_malicious_bundle_is_refused_before_anything_runs(
    backend_tasks: BackendTasks, make_agent: AgentFactory, tmp_path: Path
) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in (("docker-compose.yml", b"services: {}\n"), ("../../escaped", b"x")):
            member = tarfile.TarInfo(name)
            member.size = len(data)
            archive.addfile(member, io.BytesIO(data))
    chart = await backend_tasks.put(
        "artifacts/compose/wrktalk-2.6.0-compose.tar.gz", buffer.getvalue()
    )
    payload = bundle(
        "2.6.0", chart, artifact_type=ArtifactType.COMPOSE, image_tags={"backend": "v1"}
    )
    task_id = await backend_tasks.add_task("deploy", payload)
    agent = make_agent(deployment_type=DeploymentType.DOCKER, compose_project_name="unused")

    assert await agent.run_once() is OnceExit.FAILED

    task = await backend_tasks.task(task_id)
    assert task.error_message == "compose bundle refused: ../../escaped: '..' in the path"
    working_dir = Path(agent.settings.compose_working_dir)
    assert list((working_dir / "releases").iterdir()) == []
    assert not (working_dir / "escaped").exists()
    assert not (working_dir.parent / "escaped").exists()
    lines = [line.line for line in await backend_tasks.log_lines(task_id)]
    assert not any(line.startswith("$ ") for line in lines)


async def test_compose_v2_is_preferred_and_waits_for_the_containers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    docker = install_recorder(tmp_path / "bin", "docker")
    docker.play("compose", "version", "--short", stdout="2.29.7\n")
    docker.play("compose")
    docker.play("ps", stdout="c0ffee\n")
    docker.play("inspect", stdout=RUNNING)
    monkeypatch.setenv("PATH", path_with(docker.directory))
    bundle = tmp_path / "bundle.tar.gz"
    bundle.write_bytes(compose_bundle("127.0.0.1:5000"))
    settings = Settings(
        compose_project_name="wt",
        compose_working_dir=str(tmp_path / "compose"),
        compose_settle_period=0,
    )
    release = LocalRelease(parse_version("2.3.0"), bundle, {"controlTower": "sha-c"})
    task_id = uuid.uuid4()
    context = ExecutionContext(task_id, CommandRunner(), tmp_path, lambda _: None)

    result = await ComposeExecutor(settings).deploy(release, previous=None, context=context)

    assert result.status == "success"
    directory = tmp_path / "compose" / "releases" / f"2.3.0-{task_id.hex[:12]}" / "wrktalk"
    compose = ["compose", "--project-name", "wt", "--file", str(directory / "docker-compose.yml")]
    assert docker.calls() == [
        ["compose", "version", "--short"],
        [*compose, "pull"],
        [*compose, "up", "-d", "--remove-orphans", "--wait"],
        [
            *("ps", "--all", "--quiet", "--no-trunc"),
            *("--filter", "label=com.docker.compose.project=wt"),
            *("--filter", "label=com.docker.compose.oneoff=False"),
        ],
        ["inspect", "c0ffee"],
    ]
    env_file = directory / ".env"
    assert env_file.read_text() == "LOG_LEVEL=info\nCONTROL_TOWER_IMAGE_TAG=sha-c\n"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "compose").stat().st_mode) == 0o700
