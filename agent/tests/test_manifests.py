"""The agent verifies a task's signed release manifest with its own keys before it downloads
or runs anything, against the real customer backend (helm is the recorded stand-in). Each
refusal fails the task for good, with the reason."""

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from agent.tests.support.backend_tasks import (
    MANIFEST_EXPIRES_AT,
    BackendTasks,
    StoredFile,
    bundle,
    signed_manifest,
)
from agent.tests.support.helm_stand_in import HELM4_VERSION, HelmStandIn, release_json
from contracts import ArtifactType, DeploymentType, Version
from customer_backend.agent_tasks.models import AgentTask
from signing import SigningKey
from testsupport.manifest_keys import OTHER_PUBLIC_KEY, OTHER_SIGNING_KEY, TEST_PUBLIC_KEY
from timekeeping import ManualClock
from wrktalk_agent.agent import OnceExit
from wrktalk_agent.errors import ConfigurationError
from wrktalk_agent.manifests import VersionHistory

AgentFactory = Callable[..., Any]
StandInFactory = Callable[[str], HelmStandIn]
IMAGE_TAGS = {"backend": "sha-b", "media": "sha-m", "controlTower": "sha-c", "agent": "sha-a"}


async def _chart(backend_tasks: BackendTasks, version: str) -> StoredFile:
    return await backend_tasks.put(
        f"artifacts/helm/wrktalk-{version}.tgz", f"chart-{version}".encode()
    )


async def _deploy(
    backend_tasks: BackendTasks,
    version: str = "2.3.0",
    *,
    key: SigningKey | None = None,
    signed: bool = True,
    **manifest_fields: Any,
) -> dict[str, Any]:
    chart = await _chart(backend_tasks, version)
    manifest = None
    if signed and (key is not None or manifest_fields):
        extra = {"key": key} if key is not None else {}
        manifest = signed_manifest(
            version,
            chart,
            artifact_type=ArtifactType.HELM,
            image_tags=IMAGE_TAGS,
            **extra,
            **manifest_fields,
        )
    return bundle(
        version,
        chart,
        artifact_type=ArtifactType.HELM,
        image_tags=IMAGE_TAGS,
        manifest=manifest,
        signed=signed,
    )


async def _refused(backend_tasks: BackendTasks, agent: Any, payload: dict[str, Any]) -> AgentTask:
    """Run a task with ``payload`` and return it, failed for good."""
    task_type = "rollback" if "targetVersion" in payload else "deploy"
    task_id = await backend_tasks.add_task(task_type, payload)
    assert await agent.run_once() is OnceExit.FAILED
    task = await backend_tasks.task(task_id)
    assert task.status == "failed"
    assert task.retryable is False
    return task


def _history(agent: Any) -> VersionHistory:
    return VersionHistory(agent.settings.state_dir)


async def test_a_verified_release_runs_and_its_version_is_remembered(
    backend_tasks: BackendTasks, make_agent: AgentFactory, helm_stand_in: StandInFactory
) -> None:
    helm = helm_stand_in(HELM4_VERSION)
    helm.play("upgrade", stdout=release_json(3, "2.3.0"))
    agent = make_agent()
    task_id = await backend_tasks.add_task("deploy", await _deploy(backend_tasks))

    assert await agent.run_once() is OnceExit.COMPLETED

    logged = [line.line for line in await backend_tasks.log_lines(task_id)]
    assert "release manifest verified" in logged
    assert _history(agent).running == Version.parse("2.3.0")


async def test_a_release_without_a_manifest_is_refused(
    backend_tasks: BackendTasks, make_agent: AgentFactory, helm_stand_in: StandInFactory
) -> None:
    helm = helm_stand_in(HELM4_VERSION)

    task = await _refused(backend_tasks, make_agent(), await _deploy(backend_tasks, signed=False))

    assert task.error_message is not None
    assert task.error_message.startswith("release manifest refused (unsigned)")
    assert helm.calls() == []


async def test_a_release_without_a_manifest_runs_while_unsigned_ones_are_allowed(
    backend_tasks: BackendTasks, make_agent: AgentFactory, helm_stand_in: StandInFactory
) -> None:
    helm = helm_stand_in(HELM4_VERSION)
    helm.play("upgrade", stdout=release_json(3, "2.3.0"))
    agent = make_agent(allow_unsigned_releases=True)
    await backend_tasks.add_task("deploy", await _deploy(backend_tasks, signed=False))

    assert await agent.run_once() is OnceExit.COMPLETED


async def test_a_manifest_signed_by_a_key_the_agent_does_not_trust_is_refused(
    backend_tasks: BackendTasks, make_agent: AgentFactory, helm_stand_in: StandInFactory
) -> None:
    helm = helm_stand_in(HELM4_VERSION)
    payload = await _deploy(backend_tasks, key=OTHER_SIGNING_KEY)

    task = await _refused(backend_tasks, make_agent(), payload)

    assert task.error_message is not None
    assert task.error_message.startswith("release manifest refused (unknownKey)")
    assert helm.calls() == []


async def test_the_agent_trusts_its_own_keys_only_and_takes_a_rotated_one(
    backend_tasks: BackendTasks, make_agent: AgentFactory, helm_stand_in: StandInFactory
) -> None:
    helm = helm_stand_in(HELM4_VERSION)
    helm.play("upgrade", stdout=release_json(3, "2.3.0"))
    agent = make_agent(manifest_trusted_keys=[TEST_PUBLIC_KEY, OTHER_PUBLIC_KEY])
    await backend_tasks.add_task("deploy", await _deploy(backend_tasks, key=OTHER_SIGNING_KEY))

    assert await agent.run_once() is OnceExit.COMPLETED


async def test_an_expired_manifest_is_refused(
    backend_tasks: BackendTasks,
    make_agent: AgentFactory,
    helm_stand_in: StandInFactory,
    gcc_clock: ManualClock,
) -> None:
    helm_stand_in(HELM4_VERSION)
    payload = await _deploy(backend_tasks)
    gcc_clock.set(MANIFEST_EXPIRES_AT + timedelta(seconds=1))

    task = await _refused(backend_tasks, make_agent(), payload)

    assert task.error_message is not None
    assert task.error_message.startswith("release manifest refused (expired)")


async def test_a_manifest_for_another_deployment_type_is_refused(
    backend_tasks: BackendTasks, make_agent: AgentFactory, helm_stand_in: StandInFactory
) -> None:
    helm_stand_in(HELM4_VERSION)
    payload = await _deploy(backend_tasks, deployment_types=[DeploymentType.DOCKER])

    task = await _refused(backend_tasks, make_agent(), payload)

    assert task.error_message is not None
    assert task.error_message.startswith("release manifest refused (mismatch)")
    assert "not kubernetes" in task.error_message


async def test_a_database_row_whose_sha256_is_changed_is_refused_before_downloading(
    backend_tasks: BackendTasks, make_agent: AgentFactory, helm_stand_in: StandInFactory
) -> None:
    helm = helm_stand_in(HELM4_VERSION)
    payload = await _deploy(backend_tasks)
    evil = await backend_tasks.put("artifacts/helm/evil.tgz", b"evil chart")
    payload["chart"].update(bucketPath=evil.key, sha256=evil.sha256, sizeBytes=evil.size)

    task = await _refused(backend_tasks, make_agent(), payload)

    assert task.error_message is not None
    assert task.error_message.startswith("release manifest refused (mismatch)")
    assert "is not the signed one" in task.error_message
    assert helm.calls() == []


async def test_changed_image_tags_are_refused(
    backend_tasks: BackendTasks, make_agent: AgentFactory, helm_stand_in: StandInFactory
) -> None:
    helm_stand_in(HELM4_VERSION)
    payload = await _deploy(backend_tasks)
    payload["imageTags"] = {**payload["imageTags"], "backend": "sha-planted"}

    task = await _refused(backend_tasks, make_agent(), payload)

    assert task.error_message is not None
    assert "image tags" in task.error_message


async def test_a_bucket_object_replaced_after_verification_is_refused_and_nothing_runs(
    backend_tasks: BackendTasks,
    make_agent: AgentFactory,
    helm_stand_in: StandInFactory,
    tmp_path: Path,
) -> None:
    helm = helm_stand_in(HELM4_VERSION)
    payload = await _deploy(backend_tasks)
    await backend_tasks.put(payload["chart"]["bucketPath"], b"chart-2.3.0 with a backdoor")

    task = await _refused(backend_tasks, make_agent(), payload)

    assert task.error_message is not None
    assert "download is larger than the expected" in task.error_message
    assert helm.calls() == []
    assert list((tmp_path / "agent-tmp").iterdir()) == []


async def test_an_older_version_is_refused_as_a_deployment(
    backend_tasks: BackendTasks, make_agent: AgentFactory, helm_stand_in: StandInFactory
) -> None:
    helm_stand_in(HELM4_VERSION)
    agent = make_agent()
    _history(agent).record(Version.parse("2.3.0"))

    task = await _refused(backend_tasks, agent, await _deploy(backend_tasks, "2.2.0"))

    assert task.error_message is not None
    assert task.error_message.startswith("release manifest refused (rollback)")


async def test_a_rollback_to_a_version_never_run_here_is_refused(
    backend_tasks: BackendTasks, make_agent: AgentFactory, helm_stand_in: StandInFactory
) -> None:
    helm = helm_stand_in(HELM4_VERSION)
    agent = make_agent()
    _history(agent).record(Version.parse("2.3.0"))
    release = await _deploy(backend_tasks, "2.1.0")

    task = await _refused(
        backend_tasks, agent, {"targetVersion": "2.1.0", "release": release, "toPrevious": False}
    )

    assert task.error_message is not None
    assert task.error_message.startswith("release manifest refused (rollback)")
    assert helm.calls() == []


async def test_a_rollback_to_a_version_run_before_is_taken_even_with_its_manifest_expired(
    backend_tasks: BackendTasks,
    make_agent: AgentFactory,
    helm_stand_in: StandInFactory,
    gcc_clock: ManualClock,
) -> None:
    helm = helm_stand_in(HELM4_VERSION)
    helm.play("upgrade", stdout=release_json(4, "2.2.0"))
    agent = make_agent()
    history = _history(agent)
    history.record(Version.parse("2.2.0"))
    history.record(Version.parse("2.3.0"))
    release = await _deploy(backend_tasks, "2.2.0")
    gcc_clock.set(MANIFEST_EXPIRES_AT + timedelta(days=100))
    task_id = await backend_tasks.add_task(
        "rollback", {"targetVersion": "2.2.0", "release": release, "toPrevious": False}
    )

    assert await agent.run_once() is OnceExit.COMPLETED

    assert (await backend_tasks.task(task_id)).status == "completed"
    assert _history(agent).running == Version.parse("2.2.0")


def test_an_agent_without_trusted_keys_refuses_to_start(make_agent: AgentFactory) -> None:
    with pytest.raises(ConfigurationError, match="WRKTALK_AGENT_MANIFEST_TRUSTED_KEYS"):
        make_agent(manifest_trusted_keys=[])
