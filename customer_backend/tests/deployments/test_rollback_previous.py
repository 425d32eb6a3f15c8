"""Rollbacks that name no target go one step back, as the v4.2 agent did: Helm to its previous
revision, Compose and GitOps to the version whose artifact is flagged previous."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from contracts import ArtifactType, DeploymentType, RollbackPayload, RollbackRequest
from customer_backend.agent_tasks.models import AgentTask
from customer_backend.artifacts.models import LocalArtifact
from customer_backend.deployments import rollback
from customer_backend.settings import Settings
from objectstore import ObjectStore
from servicekit.db import SessionFactory
from servicekit.errors import NotFound
from timekeeping import ManualClock

ROLLBACK = "/api/admin/deployment/rollback"


async def test_a_helm_rollback_without_a_target_asks_helm_for_its_previous_revision(
    backend_client: httpx.AsyncClient, admin_factory: Any, rows: Any, claimable: Any
) -> None:
    admin = await admin_factory()

    response = await backend_client.post(ROLLBACK, json={}, headers=admin.headers)

    assert response.status_code == 200, response.text
    task = await rows.get(AgentTask, uuid.UUID(response.json()["taskId"]))
    assert task.payload == {
        "targetRevision": None,
        "targetVersion": None,
        "release": None,
        "toPrevious": True,
    }
    payload = RollbackPayload.model_validate(claimable(task.payload))
    assert payload.to_previous is True
    [email] = await rows.notifications("rollback_started")
    assert email.context["to_previous"] is True


@pytest.mark.parametrize(
    ("deployment_type", "artifact_type"),
    [(DeploymentType.DOCKER, ArtifactType.COMPOSE), (DeploymentType.GITOPS, ArtifactType.HELM)],
)
async def test_a_rollback_without_a_target_redeploys_the_previous_version(
    backend_settings: Settings,
    backend_sessions: SessionFactory,
    backend_store: ObjectStore,
    release_factory: Any,
    gcc_clock: ManualClock,
    claimable: Any,
    deployment_type: DeploymentType,
    artifact_type: ArtifactType,
) -> None:
    settings = backend_settings.model_copy(update={"deployment_type": deployment_type})
    await release_factory("2.1.0", status="success", artifact_type=artifact_type)
    await release_factory("2.2.0", status="success", artifact_type=artifact_type)
    await release_factory("2.3.0", status="success", artifact_type=artifact_type, is_current=True)
    async with backend_sessions() as session:
        await session.exec(  # type: ignore[call-overload]
            sa.update(LocalArtifact).where(sa.column("version") == "2.2.0").values(is_previous=True)
        )
        await session.commit()

    async with backend_sessions() as session, httpx.AsyncClient() as gcc:
        task = await rollback.request_rollback(
            session,
            clock=gcc_clock,
            settings=settings,
            object_store=backend_store,
            gcc=gcc,
            request=RollbackRequest(),
            admin_email="ops@acme.example",
        )
        await session.commit()

    payload = RollbackPayload.model_validate(claimable(task.payload))
    assert payload.to_previous is True
    assert str(payload.target_version) == "2.2.0"
    assert payload.release is not None
    assert payload.release.chart.type is artifact_type
    assert str(payload.release.chart.version) == "2.2.0"


async def test_a_rollback_without_a_target_and_no_previous_version_is_404(
    backend_settings: Settings,
    backend_sessions: SessionFactory,
    backend_store: ObjectStore,
    release_factory: Any,
    gcc_clock: ManualClock,
) -> None:
    settings = backend_settings.model_copy(update={"deployment_type": DeploymentType.DOCKER})
    await release_factory(
        "2.3.0", status="success", artifact_type=ArtifactType.COMPOSE, is_current=True
    )

    async with backend_sessions() as session, httpx.AsyncClient() as gcc:
        with pytest.raises(NotFound) as raised:
            await rollback.request_rollback(
                session,
                clock=gcc_clock,
                settings=settings,
                object_store=backend_store,
                gcc=gcc,
                request=RollbackRequest(),
                admin_email="ops@acme.example",
            )

    assert raised.value.field == "targetVersion"
    assert "no previous version" in raised.value.detail
