"""A value longer (or larger) than its column holds is a 422 naming the field, never a 500: the
contracts take their limits from the constants the columns are declared with."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from contracts import MAX_VERSION_LENGTH
from testsupport.gcc_fixtures import CreatedOrganization, OrganizationFactory
from wrktalk_testing.connections import assert_connection_still_serves

LONG_VERSION = "1.0.0-" + "a" * 100
IMAGE_TAGS = {"backend": "sha-b", "media": "sha-m", "controlTower": "sha-c", "agent": "sha-a"}
FOLLOWING_PATH = "/api/operator/fleet"


def test_the_long_version_is_106_characters_and_too_long() -> None:
    assert len(LONG_VERSION) == 106 > MAX_VERSION_LENGTH


def organization_body() -> dict[str, Any]:
    return {
        "name": "customer-y",
        "deploymentType": "kubernetes",
        "webhookEndpoint": "https://customer-y.example.com/api/deployment/webhook",
        "currentVersion": LONG_VERSION,
    }


@pytest.mark.parametrize(
    ("path", "party", "body", "field"),
    [
        ("/api/operator/organizations", "operator", organization_body(), "currentVersion"),
        (
            "/api/internal/releases",
            "ci",
            {"version": LONG_VERSION, "imageTags": IMAGE_TAGS},
            "version",
        ),
        (
            "/api/internal/releases",
            "ci",
            {"version": "2.3.0", "imageTags": IMAGE_TAGS, "minCurrentVersion": LONG_VERSION},
            "minCurrentVersion",
        ),
        (
            "/api/v1/organizations/customer-x/heartbeat",
            "customer",
            {"version": LONG_VERSION, "status": "healthy", "timestamp": "2026-06-01T12:00:00Z"},
            "version",
        ),
        (
            "/api/v1/deployments/status",
            "customer",
            {
                "organizationName": "customer-x",
                "releaseId": str(uuid.uuid4()),
                "status": "success",
                "currentVersion": LONG_VERSION,
            },
            "currentVersion",
        ),
    ],
    ids=["organization-create", "release-create", "release-minimum", "heartbeat", "report"],
)
async def test_a_106_character_version_in_a_body_is_422_naming_the_field(
    path: str,
    party: str,
    body: dict[str, Any],
    field: str,
    gcc_client: httpx.AsyncClient,
    operator_headers: dict[str, str],
    ci_headers: dict[str, str],
    organization_factory: OrganizationFactory,
) -> None:
    customer: CreatedOrganization = await organization_factory("customer-x")
    headers = {"operator": operator_headers, "ci": ci_headers, "customer": customer.headers}[party]

    response = await gcc_client.post(path, json=body, headers=headers)

    assert response.status_code == 422, response.text
    assert response.json()["field"] == field
    await assert_connection_still_serves(gcc_client, response, FOLLOWING_PATH, operator_headers)


async def test_a_106_character_version_on_an_artifact_upload_is_422_naming_it(
    gcc_client: httpx.AsyncClient, ci_headers: dict[str, str]
) -> None:
    response = await gcc_client.post(
        "/api/internal/artifacts",
        files={"file": ("artifact.tgz", b"not read: the version is refused first")},
        data={"type": "helm", "version": LONG_VERSION},
        headers=ci_headers,
    )

    assert response.status_code == 422, response.text
    assert response.json()["field"] == "version"


async def test_a_helm_revision_beyond_an_integer_column_is_422_naming_it(
    gcc_client: httpx.AsyncClient, organization_factory: OrganizationFactory
) -> None:
    customer = await organization_factory("customer-x")
    report = {
        "organizationName": "customer-x",
        "releaseId": str(uuid.uuid4()),
        "status": "success",
        "helmRevision": 2**31,
    }

    response = await gcc_client.post(
        "/api/v1/deployments/status", json=report, headers=customer.headers
    )

    assert response.status_code == 422, response.text
    assert response.json()["field"] == "helmRevision"


@pytest.mark.parametrize(
    ("path", "party", "body", "field"),
    [
        (
            "/api/v1/organizations/customer-x/heartbeat",
            "customer",
            {
                "status": "healthy",
                "timestamp": "2026-06-01T12:00:00Z",
                "agentLastPoll": "0001-01-01T00:00:00+14:00",
            },
            "agentLastPoll",
        ),
        (
            "/api/operator/organizations",
            "operator",
            {
                **organization_body(),
                "currentVersion": None,
                "licenseExpiresAt": "9999-12-31T23:59:59-14:00",
            },
            "licenseExpiresAt",
        ),
    ],
    ids=["heartbeat-agent-poll", "organization-license"],
)
async def test_an_instant_outside_the_years_utc_can_hold_is_422_naming_the_field(
    path: str,
    party: str,
    body: dict[str, Any],
    field: str,
    gcc_client: httpx.AsyncClient,
    operator_headers: dict[str, str],
    organization_factory: OrganizationFactory,
) -> None:
    customer = await organization_factory("customer-x")
    headers = {"operator": operator_headers, "customer": customer.headers}[party]

    response = await gcc_client.post(path, json=body, headers=headers)

    assert response.status_code == 422, response.text
    assert response.json()["field"] == field
