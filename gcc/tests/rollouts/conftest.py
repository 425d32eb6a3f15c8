"""A small fleet in rings, a draft release with a chart, and the rollout's moves."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlmodel import col, select

from contracts import ReleaseStatus
from gcc.artifacts.models import Artifact
from gcc.health.service import classify_health
from gcc.releases.models import DeploymentTarget, Release
from gcc.rollouts.service import Evaluation, run_evaluation
from gcc.settings import Settings
from servicekit.db import SessionFactory, session_scope
from testsupport.gcc_fixtures import CreatedOrganization, OrganizationFactory
from timekeeping import ManualClock

VERSION = "2.3.0"
STATUS = "/api/v1/deployments/status"
HEARTBEAT = "/api/v1/organizations/{name}/heartbeat"
PLAN = {
    "waves": [
        {"rings": ["canary"], "bakeMinutes": 60, "failureThreshold": 0.0, "healthThreshold": 0.0},
        {"rings": ["early"], "bakeMinutes": 60},
        {"percent": 100, "bakeMinutes": 60},
    ]
}


@dataclass
class Fleet:
    """Organizations by name, the served GCC and the clock the rollout runs on."""

    client: httpx.AsyncClient
    sessions: SessionFactory
    clock: ManualClock
    settings: Settings
    ci_headers: dict[str, str]
    operator_headers: dict[str, str]
    organizations: dict[str, CreatedOrganization] = field(default_factory=dict)
    dispatched: list[str] = field(default_factory=list)

    async def draft(self, version: str = VERSION, **fields: Any) -> Release:
        now = self.clock.now()
        release = Release(
            version=version,
            status=ReleaseStatus.DRAFT,
            image_tags={"backend": "b", "media": "m", "controlTower": "c", "agent": "a"},
            new_non_essential_envs=[],
            created_by="ci",
            created_at=now,
            updated_at=now,
            **fields,
        )
        async with self.sessions() as session:
            session.add(release)
            session.add(
                Artifact(
                    version=version,
                    type="helm",
                    bucket_path=f"charts/helm/wrktalk-{version}.tgz",
                    sha256="0" * 64,
                    size_bytes=1,
                    created_at=now,
                )
            )
            await session.commit()
            await session.refresh(release)
        return release

    async def publish(self, version: str = VERSION, plan: Any = PLAN) -> httpx.Response:
        body = None if plan is None else {"rollout": plan}
        return await self.client.post(
            f"/api/internal/releases/{version}/publish", json=body, headers=self.ci_headers
        )

    async def report(self, name: str, release: Release, status: str) -> None:
        created = self.organizations[name]
        body = {"organizationName": name, "releaseId": str(release.id), "status": status}
        response = await self.client.post(STATUS, json=body, headers=created.headers)
        assert response.status_code == 200, response.text

    async def heartbeat(self, name: str) -> None:
        created = self.organizations[name]
        response = await self.client.post(
            HEARTBEAT.format(name=name),
            json={"status": "healthy", "timestamp": self.clock.now().isoformat()},
            headers=created.headers,
        )
        assert response.status_code == 200, response.text

    async def classify(self) -> None:
        async with session_scope(self.sessions) as session:
            await classify_health(session, clock=self.clock, settings=self.settings)

    async def evaluate(self) -> Evaluation:
        return await run_evaluation(
            self.sessions, clock=self.clock, send_task=self.dispatched.append
        )

    async def notified(self, version: str = VERSION) -> list[str]:
        """The organizations whose target of the release is due or delivered, by name."""
        from gcc.organizations.models import Organization

        async with self.sessions() as session:
            rows = await session.exec(
                select(Organization.name)
                .join(DeploymentTarget, col(DeploymentTarget.organization_id) == Organization.id)
                .join(Release, col(Release.id) == col(DeploymentTarget.release_id))
                .where(
                    Release.version == version,
                    col(DeploymentTarget.wave_notified_at).is_not(None),
                )
                .order_by(col(Organization.name))
            )
            return list(rows.all())

    async def rollout(self, version: str = VERSION) -> dict[str, Any]:
        response = await self.client.get(
            f"/api/operator/releases/{version}/rollout", headers=self.operator_headers
        )
        assert response.status_code == 200, response.text
        return response.json()

    async def act(self, action: str, version: str = VERSION, **body: Any) -> httpx.Response:
        return await self.client.post(
            f"/api/operator/releases/{version}/rollout/{action}",
            json=body or None,
            headers=self.operator_headers,
        )


FleetMaker = Callable[..., Awaitable[Fleet]]


@pytest.fixture
def make_fleet(
    gcc_client: httpx.AsyncClient,
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
    gcc_settings: Settings,
    organization_factory: OrganizationFactory,
    ci_headers: dict[str, str],
    operator_headers: dict[str, str],
) -> FleetMaker:
    """Organizations by ring: ``make_fleet(canary=["c1"], early=["e1"], general=["g1"])``."""

    async def make(**rings: list[str]) -> Fleet:
        fleet = Fleet(
            gcc_client, gcc_sessions, gcc_clock, gcc_settings, ci_headers, operator_headers
        )
        for ring, names in rings.items():
            for name in names:
                fleet.organizations[name] = await organization_factory(name, ring=ring)
        return fleet

    return make
