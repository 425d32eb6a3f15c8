"""Rollbacks: to a Helm revision, or re-deploying a version with the configuration it ran with."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import boto3
import httpx
import pytest
import sqlalchemy as sa

from contracts import (
    AgentTaskStatus,
    ArtifactType,
    DeploymentType,
    RollbackPayload,
    RollbackRequest,
)
from customer_backend.agent_tasks.models import AgentTask
from customer_backend.artifacts.models import LocalArtifact
from customer_backend.config import service as config_service
from customer_backend.deployments import rollback
from customer_backend.settings import Settings
from gcc.artifacts.models import Artifact as GccArtifact
from gcc.settings import Settings as GccSettings
from objectstore import ObjectStore
from servicekit.db import SessionFactory
from servicekit.errors import InvalidInput
from testsupport.backend_fixtures import BACKEND_GCC_API_KEY
from timekeeping import ManualClock
from wrktalk_testing.s3 import TEST_CREDENTIALS

ROLLBACK = "/api/admin/deployment/rollback"


async def publish_at_gcc(
    gcc_client: httpx.AsyncClient,
    ci_headers: dict[str, str],
    version: str,
    chart: Callable[[str], bytes],
) -> str:
    """Upload a chart through GCC's CI API, create the release and publish it; the chart's
    SHA256."""
    content = chart(version)
    upload = await gcc_client.post(
        "/api/internal/artifacts",
        files={"file": (f"wrktalk-{version}.tgz", content)},
        data={"type": "helm", "version": version},
        headers=ci_headers,
    )
    assert upload.status_code == 200, upload.text
    release = await gcc_client.post(
        "/api/internal/releases",
        json={
            "version": version,
            "imageTags": {
                "backend": "sha-1",
                "media": "sha-2",
                "controlTower": "sha-3",
                "agent": "sha-4",
            },
        },
        headers=ci_headers,
    )
    assert release.status_code == 200, release.text
    published = await gcc_client.post(
        f"/api/internal/releases/{version}/publish", headers=ci_headers
    )
    assert published.status_code == 200, published.text
    return hashlib.sha256(content).hexdigest()


async def test_rollback_to_a_helm_revision_queues_a_rollback_task(
    backend_client: httpx.AsyncClient, admin_factory: Any, rows: Any, gcc_clock: ManualClock
) -> None:
    admin = await admin_factory()

    response = await backend_client.post(
        ROLLBACK, json={"targetRevision": 5}, headers=admin.headers
    )

    assert response.status_code == 200, response.text
    assert response.json()["rollbackInitiated"] is True
    task = await rows.get(AgentTask, uuid.UUID(response.json()["taskId"]))
    assert (task.type, task.status) == ("rollback", AgentTaskStatus.PENDING)
    assert task.payload == {
        "targetRevision": 5,
        "targetVersion": None,
        "release": None,
        "toPrevious": False,
    }
    assert task.execute_after == gcc_clock.now()
    RollbackPayload.model_validate(task.payload)
    [email] = await rows.notifications("rollback_started")
    assert email.context["target_revision"] == 5


@pytest.mark.parametrize("deployment_type", [DeploymentType.DOCKER, DeploymentType.GITOPS])
async def test_rollback_to_a_revision_without_helm_revisions_is_422(
    backend_settings: Settings,
    backend_sessions: SessionFactory,
    backend_store: ObjectStore,
    gcc_clock: ManualClock,
    deployment_type: DeploymentType,
) -> None:
    settings = backend_settings.model_copy(update={"deployment_type": deployment_type})
    async with backend_sessions() as session, httpx.AsyncClient() as gcc:
        with pytest.raises(InvalidInput) as raised:
            await rollback.request_rollback(
                session,
                clock=gcc_clock,
                settings=settings,
                object_store=backend_store,
                gcc=gcc,
                request=RollbackRequest(target_revision=3),
                admin_email="ops@acme.example",
            )

    assert raised.value.field == "targetRevision"
    assert "use targetVersion" in raised.value.detail


async def test_rollback_with_both_targets_is_422(
    backend_client: httpx.AsyncClient, admin_factory: Any
) -> None:
    admin = await admin_factory()

    response = await backend_client.post(
        ROLLBACK, json={"targetRevision": 5, "targetVersion": "2.2.0"}, headers=admin.headers
    )

    assert response.status_code == 422
    assert "at most one" in response.json()["detail"]


async def test_rollback_to_a_version_uses_its_artifact_and_the_configuration_it_ran_with(
    backend_client: httpx.AsyncClient,
    admin_factory: Any,
    release_factory: Any,
    record_history: Any,
    rows: Any,
    claimable: Any,
) -> None:
    admin = await admin_factory(role="support")
    old = await release_factory("2.2.0", status="success")
    await backend_client.put(
        "/api/admin/config/essential", json={"content": "tier: old\n"}, headers=admin.headers
    )
    await record_history(old, config_revision=1)
    await backend_client.put(
        "/api/admin/config/essential", json={"content": "tier: new\n"}, headers=admin.headers
    )

    response = await backend_client.post(
        ROLLBACK, json={"targetVersion": "2.2.0"}, headers=admin.headers
    )

    assert response.status_code == 200, response.text
    task = await rows.get(AgentTask, uuid.UUID(response.json()["taskId"]))
    assert task.type == "rollback"
    payload = task.payload
    assert payload["targetVersion"] == "2.2.0"
    assert payload["targetRevision"] is None
    assert payload["release"]["chart"]["bucketPath"] == "artifacts/helm/wrktalk-2.2.0.tgz"
    assert payload["release"]["chart"]["sha256"] == old.artifact.sha256
    assert payload["release"]["values"]["bucketPath"] == "config/values.r1.yaml"
    assert payload["release"]["imageTags"]["backend"] == "sha-abc123-2.2.0"
    RollbackPayload.model_validate(claimable(payload))


async def test_compose_rollback_to_a_version_uses_its_versioned_env_file(
    backend_settings: Settings,
    backend_sessions: SessionFactory,
    backend_store: ObjectStore,
    release_factory: Any,
    record_history: Any,
    gcc_clock: ManualClock,
) -> None:
    settings = backend_settings.model_copy(update={"deployment_type": DeploymentType.DOCKER})
    old = await release_factory("2.2.0", status="success", artifact_type=ArtifactType.COMPOSE)
    for content in ("DATABASE_URL=postgres://old\n", "DATABASE_URL=postgres://new\n"):
        async with backend_sessions() as session:
            await config_service.save_essential_config(
                session,
                clock=gcc_clock,
                object_store=backend_store,
                deployment_type=DeploymentType.DOCKER,
                content=content,
                admin_email="ops@acme.example",
                role="support",
            )
            await session.commit()
        if content.endswith("old\n"):
            await record_history(old, config_revision=1)

    async with backend_sessions() as session, httpx.AsyncClient() as gcc:
        task = await rollback.request_rollback(
            session,
            clock=gcc_clock,
            settings=settings,
            object_store=backend_store,
            gcc=gcc,
            request=RollbackRequest(target_version="2.2.0"),  # type: ignore[arg-type]
            admin_email="ops@acme.example",
        )
        await session.commit()

    release = task.payload["release"]
    assert release["chart"]["bucketPath"] == "artifacts/compose/wrktalk-2.2.0-compose.tar.gz"
    assert release["chart"]["type"] == "compose"
    assert release["env"]["bucketPath"] == "config/env.r1"
    assert release["values"] is None


async def test_rollback_to_a_version_the_bucket_lost_fetches_it_from_gcc(
    backend_client: httpx.AsyncClient,
    gcc_client: httpx.AsyncClient,
    ci_headers: dict[str, str],
    admin_factory: Any,
    release_factory: Any,
    backend_store: ObjectStore,
    backend_sessions: SessionFactory,
    rows: Any,
    chart: Any,
) -> None:
    admin = await admin_factory()
    sha256 = await publish_at_gcc(gcc_client, ci_headers, "2.2.0", chart)
    old = await release_factory("2.2.0", status="success")
    await backend_store.delete(old.artifact.bucket_key)
    async with backend_sessions() as session:
        artifact = await session.get(LocalArtifact, old.artifact.id)
        artifact.removed_at = datetime(2026, 5, 1, tzinfo=UTC)
        session.add(artifact)
        await session.commit()

    response = await backend_client.post(
        ROLLBACK, json={"targetVersion": "2.2.0"}, headers=admin.headers
    )

    assert response.status_code == 200, response.text
    stored = await rows.get(LocalArtifact, old.artifact.id)
    assert stored.removed_at is None
    assert stored.sha256 == sha256
    chunks = [chunk async for chunk in backend_store.iter_chunks(stored.bucket_key)]
    assert hashlib.sha256(b"".join(chunks)).hexdigest() == sha256
    task = await rows.get(AgentTask, uuid.UUID(response.json()["taskId"]))
    assert task.payload["release"]["chart"]["sha256"] == sha256


async def test_rollback_to_a_version_never_received_fetches_it_from_gcc(
    backend_client: httpx.AsyncClient,
    gcc_client: httpx.AsyncClient,
    ci_headers: dict[str, str],
    admin_factory: Any,
    backend_store: ObjectStore,
    rows: Any,
    chart: Any,
) -> None:
    admin = await admin_factory()
    await backend_store.delete("artifacts/helm/wrktalk-2.1.0.tgz")
    sha256 = await publish_at_gcc(gcc_client, ci_headers, "2.1.0", chart)

    response = await backend_client.post(
        ROLLBACK, json={"targetVersion": "2.1.0"}, headers=admin.headers
    )

    assert response.status_code == 200, response.text
    assert await backend_store.head("artifacts/helm/wrktalk-2.1.0.tgz") is not None
    task = await rows.get(AgentTask, uuid.UUID(response.json()["taskId"]))
    assert task.payload["release"]["chart"]["sha256"] == sha256
    assert task.payload["release"]["imageTags"] == {}


async def test_rollback_discards_an_artifact_from_gcc_that_fails_verification(
    backend_client: httpx.AsyncClient,
    gcc_client: httpx.AsyncClient,
    gcc_settings: GccSettings,
    ci_headers: dict[str, str],
    admin_factory: Any,
    backend_store: ObjectStore,
    rows: Any,
    chart: Any,
) -> None:
    admin = await admin_factory()
    await backend_store.delete("artifacts/helm/wrktalk-2.0.9.tgz")
    await publish_at_gcc(gcc_client, ci_headers, "2.0.9", chart)
    s3 = boto3.client(
        "s3",
        endpoint_url=gcc_settings.s3_endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=TEST_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=TEST_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    [key] = [
        item["Key"]
        for item in s3.list_objects_v2(Bucket=gcc_settings.bucket_name)["Contents"]
        if "2.0.9" in item["Key"]
    ]
    corrupted = chart("2.0.9")[:-4] + b"XXXX"
    s3.put_object(Bucket=gcc_settings.bucket_name, Key=key, Body=corrupted)

    response = await backend_client.post(
        ROLLBACK, json={"targetVersion": "2.0.9"}, headers=admin.headers
    )

    assert response.status_code == 502
    assert "SHA256" in response.json()["detail"]
    assert await backend_store.head("artifacts/helm/wrktalk-2.0.9.tgz") is None
    assert await rows.tasks() == []


async def test_rollback_to_a_version_neither_the_bucket_nor_gcc_has_is_404(
    backend_client: httpx.AsyncClient, gcc_client: httpx.AsyncClient, admin_factory: Any, rows: Any
) -> None:
    admin = await admin_factory()

    response = await backend_client.post(
        ROLLBACK, json={"targetVersion": "1.9.0"}, headers=admin.headers
    )

    assert response.status_code == 404
    assert response.json()["field"] == "targetVersion"
    assert "not available" in response.json()["detail"]
    assert await rows.tasks() == []


async def test_rollback_to_a_version_gcc_retention_removed_is_404(
    backend_client: httpx.AsyncClient,
    gcc_client: httpx.AsyncClient,
    ci_headers: dict[str, str],
    gcc_sessions: SessionFactory,
    admin_factory: Any,
    rows: Any,
    chart: Any,
) -> None:
    admin = await admin_factory()
    await publish_at_gcc(gcc_client, ci_headers, "2.0.1", chart)
    async with gcc_sessions() as session:
        await session.exec(
            sa.update(GccArtifact)
            .where(GccArtifact.version == "2.0.1")
            .values(removed_at=datetime(2026, 5, 1, tzinfo=UTC))
        )
        await session.commit()
    assert (
        await gcc_client.get(
            "/api/artifacts/charts/2.0.1",
            params={"type": "helm"},
            headers={"Authorization": f"Bearer {BACKEND_GCC_API_KEY}"},
        )
    ).status_code == 410

    response = await backend_client.post(
        ROLLBACK, json={"targetVersion": "2.0.1"}, headers=admin.headers
    )

    assert response.status_code == 404
    assert response.json()["field"] == "targetVersion"
    assert await rows.tasks() == []


async def test_rollback_while_a_deployment_is_scheduled_is_409(
    backend_client: httpx.AsyncClient, admin_factory: Any, release_factory: Any, rows: Any
) -> None:
    admin = await admin_factory()
    await release_factory("2.3.0", status="scheduled")

    by_revision = await backend_client.post(
        ROLLBACK, json={"targetRevision": 2}, headers=admin.headers
    )
    by_version = await backend_client.post(
        ROLLBACK, json={"targetVersion": "2.3.0"}, headers=admin.headers
    )

    assert by_revision.status_code == 409
    assert by_version.status_code == 409
    assert await rows.tasks() == []


async def test_rollback_while_another_rollback_is_pending_is_409(
    backend_client: httpx.AsyncClient, admin_factory: Any
) -> None:
    admin = await admin_factory()
    first = await backend_client.post(ROLLBACK, json={"targetRevision": 2}, headers=admin.headers)
    assert first.status_code == 200

    second = await backend_client.post(ROLLBACK, json={"targetRevision": 3}, headers=admin.headers)

    assert second.status_code == 409
