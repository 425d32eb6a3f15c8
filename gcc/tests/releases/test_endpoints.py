"""Release creation, publication, deprecation and the operator views, over HTTP."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlmodel import col, select

from contracts import DeploymentType
from gcc.escalations.models import Escalation
from gcc.organizations.models import Organization
from gcc.releases.models import DeploymentTarget, Release
from servicekit.db import SessionFactory
from timekeeping import ManualClock

ReleaseMaker = Callable[..., Awaitable[httpx.Response]]
ReadyRelease = Callable[..., Awaitable[None]]
OrganizationFactory = Callable[..., Awaitable[Any]]


def release_json(version: str = "2.3.0", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "version": version,
        "imageTags": {"backend": "b1", "media": "m1", "controlTower": "c1", "agent": "a1"},
    }
    body.update(overrides)
    return body


async def targeted_names(sessions: SessionFactory) -> set[str]:
    async with sessions() as session:
        result = await session.exec(
            select(Organization.name).join(
                DeploymentTarget, col(DeploymentTarget.organization_id) == col(Organization.id)
            )
        )
        return set(result.all())


async def escalations(sessions: SessionFactory) -> list[Escalation]:
    async with sessions() as session:
        return list((await session.exec(select(Escalation))).all())


# --- creation -------------------------------------------------------------------------------


async def test_create_answers_the_draft(create_release: ReleaseMaker) -> None:
    response = await create_release("2.3.0")

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["version"] == "2.3.0"
    assert body["status"] == "draft"


async def test_create_of_an_existing_draft_overwrites_it(
    create_release: ReleaseMaker, gcc_sessions: SessionFactory
) -> None:
    first = (await create_release("2.3.0", releaseNotes="first")).json()

    second = await create_release("2.3.0", releaseNotes="second", isForced=True)

    assert second.status_code == 200
    assert second.json()["id"] == first["id"]
    async with gcc_sessions() as session:
        [release] = (await session.exec(select(Release))).all()
    assert (release.release_notes, release.is_forced) == ("second", True)


async def test_create_of_a_published_version_is_409(
    ready_release: ReadyRelease, publish: ReleaseMaker, create_release: ReleaseMaker
) -> None:
    await ready_release("2.3.0")
    assert (await publish("2.3.0")).status_code == 200

    response = await create_release("2.3.0")

    assert response.status_code == 409
    assert response.json()["field"] == "version"


@pytest.mark.parametrize("version", ["2.3.0+evil", "v2.3.0+build.7"])
async def test_create_differing_from_a_published_version_only_in_build_metadata_is_409(
    ready_release: ReadyRelease, publish: ReleaseMaker, create_release: ReleaseMaker, version: str
) -> None:
    await ready_release("2.3.0")
    assert (await publish("2.3.0")).status_code == 200

    response = await create_release(version)

    assert response.status_code == 409, response.text
    assert response.json()["field"] == "version"


async def test_publish_differing_from_a_published_version_only_in_build_metadata_is_409(
    ready_release: ReadyRelease, publish: ReleaseMaker
) -> None:
    await ready_release("2.3.0+a")
    await ready_release("2.3.0+b")
    assert (await publish("2.3.0+a")).status_code == 200

    response = await publish("2.3.0+b")

    assert response.status_code == 409, response.text
    assert response.json()["field"] == "version"


async def test_a_prerelease_of_a_published_version_may_be_created(
    ready_release: ReadyRelease, publish: ReleaseMaker, create_release: ReleaseMaker
) -> None:
    await ready_release("2.3.0")
    assert (await publish("2.3.0")).status_code == 200

    response = await create_release("2.3.0-rc.1+evil")

    assert response.status_code == 200, response.text


async def test_create_with_malformed_json_is_400(
    gcc_client: httpx.AsyncClient, ci_headers: dict[str, str]
) -> None:
    response = await gcc_client.post(
        "/api/internal/releases",
        content=b'{"version": "2.3.0", ',
        headers={**ci_headers, "Content-Type": "application/json"},
    )

    assert response.status_code == 400
    assert response.json()["error"] == "malformed_json"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"version": "2.3"}, "version"),
        ({"version": 230}, "version"),
        ({"isForced": "sometimes"}, "isForced"),
        ({"imageTags": {"backend": "b1"}}, "imageTags"),
        ({"newNonEssentialEnvs": [{"key": "1BAD", "value": "x"}]}, "newNonEssentialEnvs.0.key"),
        ({"minCurrentVersion": "3.0.0"}, "minCurrentVersion"),
        ({"targets": ["Not A Name"]}, "targets.0"),
    ],
)
async def test_create_with_a_bad_field_is_422_naming_it(
    gcc_client: httpx.AsyncClient,
    ci_headers: dict[str, str],
    overrides: dict[str, Any],
    field: str,
) -> None:
    response = await gcc_client.post(
        "/api/internal/releases", json=release_json(**overrides), headers=ci_headers
    )

    assert response.status_code == 422, response.text
    assert response.json()["field"] == field


async def test_create_naming_an_unknown_target_is_422(
    create_release: ReleaseMaker, organization_factory: OrganizationFactory
) -> None:
    await organization_factory("known")

    response = await create_release("2.3.0", targets=["known", "unknown"])

    assert response.status_code == 422
    assert response.json()["field"] == "targets"
    assert "unknown" in response.json()["detail"]


@pytest.mark.parametrize("token", [None, "operator-token-for-tests"])
async def test_create_without_the_ci_token_is_401(
    gcc_client: httpx.AsyncClient, token: str | None
) -> None:
    headers = {"Authorization": f"Bearer {token}"} if token else {}

    response = await gcc_client.post("/api/internal/releases", json=release_json(), headers=headers)

    assert response.status_code == 401


# --- publication ----------------------------------------------------------------------------


async def test_publish_targets_each_organization_whose_type_has_an_artifact(
    ready_release: ReadyRelease,
    publish: ReleaseMaker,
    organization_factory: OrganizationFactory,
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
) -> None:
    await organization_factory("kube", deployment_type=DeploymentType.KUBERNETES)
    await organization_factory("flux", deployment_type=DeploymentType.GITOPS)
    await organization_factory("compose", deployment_type=DeploymentType.DOCKER)
    await ready_release("2.3.0")

    response = await publish("2.3.0")

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["targets"], body["withoutArtifact"]) == ("published", 2, 1)
    assert await targeted_names(gcc_sessions) == {"kube", "flux"}
    async with gcc_sessions() as session:
        targets = (await session.exec(select(DeploymentTarget))).all()
    for target in targets:
        assert target.webhook_id.startswith("msg_")
        assert target.status == "pending"
        assert target.next_attempt_at == gcc_clock.now()
        assert not target.webhook_sent
        assert not target.webhook_acked
    assert len({target.webhook_id for target in targets}) == 2


async def test_publish_with_a_compose_bundle_also_targets_docker_organizations(
    ready_release: ReadyRelease,
    publish: ReleaseMaker,
    organization_factory: OrganizationFactory,
    gcc_sessions: SessionFactory,
) -> None:
    await organization_factory("kube", deployment_type=DeploymentType.KUBERNETES)
    await organization_factory("compose", deployment_type=DeploymentType.DOCKER)
    await ready_release("2.3.0", compose=True)

    response = await publish("2.3.0")

    assert response.json()["targets"] == 2
    assert await targeted_names(gcc_sessions) == {"kube", "compose"}


async def test_publish_enqueues_delivery(
    ready_release: ReadyRelease,
    publish: ReleaseMaker,
    organization_factory: OrganizationFactory,
    task_recorder: Any,
) -> None:
    await organization_factory()
    await ready_release("2.3.0")

    await publish("2.3.0")

    assert task_recorder.names() == ["delivery.dispatch_due"]


async def test_publish_skips_an_expired_license_and_escalates(
    ready_release: ReadyRelease,
    publish: ReleaseMaker,
    organization_factory: OrganizationFactory,
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
) -> None:
    await organization_factory("current")
    expired = await organization_factory(
        "expired", license_expires_at=gcc_clock.now() - timedelta(days=1)
    )
    await ready_release("2.3.0")

    response = await publish("2.3.0")

    assert response.json()["licenseExpired"] == 1
    assert await targeted_names(gcc_sessions) == {"current"}
    [escalation] = await escalations(gcc_sessions)
    assert escalation.type == "LICENSE_EXPIRED"
    assert escalation.organization_id == expired.organization.id
    assert str(escalation.release_id) == response.json()["id"]


async def test_publish_skips_organizations_below_the_minimum_version_and_escalates(
    ready_release: ReadyRelease,
    publish: ReleaseMaker,
    organization_factory: OrganizationFactory,
    gcc_sessions: SessionFactory,
) -> None:
    await organization_factory("recent", current_version="2.2.0")
    await organization_factory("exactly", current_version="2.1.0")
    await organization_factory("unknown-version", current_version=None)
    old = await organization_factory("old", current_version="2.0.9")
    await ready_release("2.3.0", minCurrentVersion="2.1.0")

    response = await publish("2.3.0")

    assert response.json()["belowMinVersion"] == 1
    assert await targeted_names(gcc_sessions) == {"recent", "exactly", "unknown-version"}
    [escalation] = await escalations(gcc_sessions)
    assert escalation.type == "MIN_VERSION_BLOCKED"
    assert escalation.organization_id == old.organization.id


async def test_publish_with_targets_reaches_only_the_named_organizations(
    ready_release: ReadyRelease,
    publish: ReleaseMaker,
    organization_factory: OrganizationFactory,
    gcc_sessions: SessionFactory,
) -> None:
    await organization_factory("pilot")
    await organization_factory("everyone-else")
    await ready_release("2.3.0", targets=["pilot"])

    response = await publish("2.3.0")

    assert response.json()["targets"] == 1
    assert await targeted_names(gcc_sessions) == {"pilot"}


async def test_publish_skips_deleted_organizations(
    ready_release: ReadyRelease,
    publish: ReleaseMaker,
    organization_factory: OrganizationFactory,
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
) -> None:
    await organization_factory("active")
    await organization_factory("gone", deleted_at=gcc_clock.now())
    await ready_release("2.3.0")

    await publish("2.3.0")

    assert await targeted_names(gcc_sessions) == {"active"}


async def test_publish_naming_a_docker_target_without_a_compose_bundle_is_422(
    ready_release: ReadyRelease,
    publish: ReleaseMaker,
    organization_factory: OrganizationFactory,
    gcc_sessions: SessionFactory,
) -> None:
    await organization_factory("compose", deployment_type=DeploymentType.DOCKER)
    await ready_release("2.3.0", targets=["compose"])

    response = await publish("2.3.0")

    assert response.status_code == 422
    assert response.json()["field"] == "targets"
    assert await targeted_names(gcc_sessions) == set()


async def test_publish_without_the_helm_chart_is_422_naming_it(
    create_release: ReleaseMaker, publish: ReleaseMaker
) -> None:
    await create_release("2.3.0")

    response = await publish("2.3.0")

    assert response.status_code == 422
    assert response.json()["field"] == "helm"
    assert "Helm chart" in response.json()["detail"]


async def test_publish_of_an_unknown_version_is_404(publish: ReleaseMaker) -> None:
    response = await publish("9.9.9")

    assert response.status_code == 404


async def test_publish_with_a_bad_version_is_422_naming_it(publish: ReleaseMaker) -> None:
    response = await publish("nine")

    assert (response.status_code, response.json()["field"]) == (422, "version")


async def test_publish_twice_is_409(ready_release: ReadyRelease, publish: ReleaseMaker) -> None:
    await ready_release("2.3.0")
    assert (await publish("2.3.0")).status_code == 200

    response = await publish("2.3.0")

    assert response.status_code == 409


async def test_operator_may_publish(
    ready_release: ReadyRelease, publish: ReleaseMaker, operator_headers: dict[str, str]
) -> None:
    await ready_release("2.3.0")

    response = await publish("2.3.0", headers=operator_headers)

    assert response.status_code == 200


async def test_customer_key_cannot_publish(
    ready_release: ReadyRelease, publish: ReleaseMaker, organization_factory: OrganizationFactory
) -> None:
    customer = await organization_factory()
    await ready_release("2.3.0")

    response = await publish("2.3.0", headers=customer.headers)

    assert response.status_code == 401


# --- deprecation ----------------------------------------------------------------------------


async def test_deprecate_marks_a_published_release_deprecated(
    ready_release: ReadyRelease,
    publish: ReleaseMaker,
    gcc_client: httpx.AsyncClient,
    operator_headers: dict[str, str],
) -> None:
    await ready_release("2.3.0")
    await publish("2.3.0")

    response = await gcc_client.post(
        "/api/internal/releases/2.3.0/deprecate", headers=operator_headers
    )

    assert response.status_code == 200
    assert response.json()["status"] == "deprecated"
    assert response.json()["deprecatedAt"] is not None


async def test_deprecate_of_a_draft_is_409(
    create_release: ReleaseMaker, gcc_client: httpx.AsyncClient, ci_headers: dict[str, str]
) -> None:
    await create_release("2.3.0")

    response = await gcc_client.post("/api/internal/releases/2.3.0/deprecate", headers=ci_headers)

    assert response.status_code == 409


async def test_deprecate_of_an_unknown_version_is_404(
    gcc_client: httpx.AsyncClient, ci_headers: dict[str, str]
) -> None:
    response = await gcc_client.post("/api/internal/releases/9.9.9/deprecate", headers=ci_headers)

    assert response.status_code == 404


# --- operator views -------------------------------------------------------------------------


async def test_operator_list_is_newest_first_with_status_and_counts(
    ready_release: ReadyRelease,
    publish: ReleaseMaker,
    create_release: ReleaseMaker,
    organization_factory: OrganizationFactory,
    gcc_client: httpx.AsyncClient,
    operator_headers: dict[str, str],
    gcc_clock: ManualClock,
) -> None:
    await organization_factory()
    await ready_release("2.2.0")
    await publish("2.2.0")
    gcc_clock.advance(timedelta(hours=1))
    await create_release("2.3.0")

    response = await gcc_client.get("/api/operator/releases", headers=operator_headers)

    assert response.status_code == 200
    releases = response.json()["releases"]
    assert [(r["version"], r["status"]) for r in releases] == [
        ("2.3.0", "draft"),
        ("2.2.0", "published"),
    ]
    assert releases[1]["targets"]["total"] == 1
    assert releases[0]["targets"]["total"] == 0


async def test_operator_detail_shows_artifacts_and_every_target(
    ready_release: ReadyRelease,
    publish: ReleaseMaker,
    organization_factory: OrganizationFactory,
    gcc_client: httpx.AsyncClient,
    operator_headers: dict[str, str],
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
) -> None:
    await organization_factory("alpha", deployment_type=DeploymentType.DOCKER)
    beta = await organization_factory("beta")
    await ready_release("2.3.0", compose=True)
    await publish("2.3.0")
    async with gcc_sessions() as session:
        target = (
            await session.exec(
                select(DeploymentTarget).where(
                    DeploymentTarget.organization_id == beta.organization.id
                )
            )
        ).one()
        target.webhook_sent = True
        target.webhook_attempts = 2
        target.webhook_error = "HTTP 500"
        target.status = "scheduled"
        target.scheduled_for = gcc_clock.now() + timedelta(hours=3)
        session.add(target)
        await session.commit()

    response = await gcc_client.get("/api/operator/releases/2.3.0", headers=operator_headers)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "published"
    assert body["imageTags"]["controlTower"] == "sha-ghi789"
    assert sorted(artifact["type"] for artifact in body["artifacts"]) == ["compose", "helm"]
    assert [t["organizationName"] for t in body["deploymentTargets"]] == ["alpha", "beta"]
    beta_view = body["deploymentTargets"][1]
    assert beta_view["delivery"]["sent"] is True
    assert beta_view["delivery"]["attempts"] == 2
    assert beta_view["delivery"]["error"] == "HTTP 500"
    assert beta_view["deployment"]["status"] == "scheduled"
    assert beta_view["deployment"]["scheduledFor"] is not None
    assert body["deploymentTargets"][0]["deploymentType"] == "docker"


async def test_operator_detail_of_an_unknown_version_is_404(
    gcc_client: httpx.AsyncClient, operator_headers: dict[str, str]
) -> None:
    response = await gcc_client.get("/api/operator/releases/9.9.9", headers=operator_headers)

    assert response.status_code == 404


@pytest.mark.parametrize("path", ["/api/operator/releases", "/api/operator/releases/2.3.0"])
async def test_operator_views_refuse_the_ci_token(
    gcc_client: httpx.AsyncClient, ci_headers: dict[str, str], path: str
) -> None:
    response = await gcc_client.get(path, headers=ci_headers)

    assert response.status_code == 401
