"""An installation with no path to GCC: a release exported by GCC as an offline bundle is
imported into an air-gapped customer backend (GCC's address answers nothing), scheduled by an
admin, and deployed by a real GitOps agent (real helm renders, real git pushes), which verifies
the signed manifest and the artifact again. The status report stays in the backend's outbox."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import select

from agent.tests.support.git_repositories import git, make_working_copy
from contracts import DeploymentType, LocalDeploymentStatus
from customer_backend.agent_tasks.models import AgentTask
from customer_backend.app import create_app
from customer_backend.deployments.models import ScheduledDeployment
from customer_backend.intake.bundles import import_bundle
from customer_backend.reporting.models import GccOutboxMessage
from customer_backend.reporting.service import flush_outbox
from customer_backend.runtime import Runtime, open_runtime
from customer_backend.settings import Settings as BackendSettings
from gcc.organizations.models import Organization
from gcc.settings import Settings as GccSettings
from servicekit.db import SessionFactory
from testsupport.backend_fixtures import BACKEND_ORGANIZATION, AdminFactory
from testsupport.bundles import export_bundle
from testsupport.gcc_fixtures import TaskRecorder
from timekeeping import ManualClock
from wrktalk_agent.agent import OnceExit
from wrktalk_testing.network import free_port
from wrktalk_testing.servers import ServedApp

AgentFactory = Callable[..., Any]
IMAGE_TAGS = {"backend": "sha-b23", "media": "sha-m23", "controlTower": "sha-c23", "agent": "a23"}


@pytest.fixture
def working_copy(tmp_path: Path) -> Path:
    """A working copy on branch main with one commit, cloned from a bare remote."""
    return make_working_copy(tmp_path)


@pytest.fixture
def air_gapped_settings(backend_settings: BackendSettings) -> BackendSettings:
    """The backend under test's database and bucket, air-gapped, with GCC at an address where
    nothing listens."""
    return backend_settings.model_copy(
        update={
            "air_gapped": True,
            "gcc_endpoint": f"http://127.0.0.1:{free_port()}",
            "deployment_type": DeploymentType.GITOPS,
        }
    )


@pytest.fixture
def air_gapped_backend(
    air_gapped_settings: BackendSettings, gcc_clock: ManualClock, backend_sessions: SessionFactory
) -> Iterator[ServedApp]:
    """The air-gapped backend served on loopback (empty tables)."""
    served = ServedApp(create_app(air_gapped_settings, clock=gcc_clock, send_task=TaskRecorder()))
    served.start()
    yield served
    served.stop()


@pytest.fixture
async def air_gapped_runtime(
    air_gapped_settings: BackendSettings, gcc_clock: ManualClock
) -> AsyncIterator[Runtime]:
    async with open_runtime(
        air_gapped_settings, clock=gcc_clock, send_task=TaskRecorder()
    ) as runtime:
        yield runtime


async def _publish_at_gcc(
    gcc_client: httpx.AsyncClient, ci_headers: dict[str, str], chart: Path
) -> None:
    for response in (
        await gcc_client.post(
            "/api/internal/artifacts",
            files={"file": ("chart.tgz", chart.read_bytes())},
            data={"type": "helm", "version": "2.3.0"},
            headers=ci_headers,
        ),
        await gcc_client.post(
            "/api/internal/releases",
            json={"version": "2.3.0", "imageTags": IMAGE_TAGS, "releaseNotes": "Offline"},
            headers=ci_headers,
        ),
        await gcc_client.post("/api/internal/releases/2.3.0/publish", headers=ci_headers),
    ):
        assert response.status_code == 200, response.text


async def test_an_air_gapped_backend_imports_a_bundle_and_a_gitops_agent_deploys_it(
    gcc_client: httpx.AsyncClient,
    ci_headers: dict[str, str],
    gcc_settings: GccSettings,
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
    gcc_organization: Organization,
    helm_charts: dict[str, Path],
    air_gapped_backend: ServedApp,
    air_gapped_runtime: Runtime,
    backend_sessions: SessionFactory,
    admin_factory: AdminFactory,
    make_agent: AgentFactory,
    working_copy: Path,
    tmp_path: Path,
) -> None:
    await _publish_at_gcc(gcc_client, ci_headers, helm_charts["2.3.0"])
    bundle = tmp_path / "wrktalk-2.3.0.tar"
    await export_bundle(
        gcc_settings=gcc_settings,
        gcc_sessions=gcc_sessions,
        clock=gcc_clock,
        version="2.3.0",
        organization=BACKEND_ORGANIZATION,
        output=bundle,
    )

    imported = await import_bundle(runtime=air_gapped_runtime, source=bundle)
    admin = await admin_factory()
    async with httpx.AsyncClient(base_url=air_gapped_backend.base_url) as backend:
        scheduled = await backend.post(
            "/api/admin/deployment/schedule",
            json={
                "deploymentId": str(imported.deployment_id),
                "scheduledFor": (gcc_clock.now() + timedelta(minutes=5)).isoformat(),
            },
            headers=admin.headers,
        )
    assert scheduled.status_code == 200, scheduled.text
    gcc_clock.advance(timedelta(minutes=5))
    agent = make_agent(
        backend_url=air_gapped_backend.base_url,
        deployment_type=DeploymentType.GITOPS,
        gitops_repo=str(working_copy),
    )

    assert await agent.run_once() is OnceExit.COMPLETED

    task_id = uuid.UUID(scheduled.json()["taskId"])
    async with backend_sessions() as session:
        task = (await session.exec(select(AgentTask).where(AgentTask.id == task_id))).one()
        deployment = (await session.exec(select(ScheduledDeployment))).one()
    assert task.status == "completed", task.error_message
    assert deployment.status == LocalDeploymentStatus.SUCCESS
    assert "wrktalk 2.3.0" in git(working_copy, "log", "-1", "--format=%s")
    assert IMAGE_TAGS["backend"] in "".join(
        path.read_text() for path in working_copy.rglob("*.yaml")
    )
    kept = await flush_outbox(runtime=air_gapped_runtime)
    assert kept.kept_air_gapped is True
    async with backend_sessions() as session:
        reports = (await session.exec(select(GccOutboxMessage))).all()
    assert reports
    assert all(report.sent_at is None and report.attempts == 0 for report in reports)
    assert reports[-1].payload["status"] == "success"
