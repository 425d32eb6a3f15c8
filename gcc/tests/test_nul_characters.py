"""A NUL character (which PostgreSQL cannot store in text) is a 422 naming the field, never a
500, and the keep-alive connection that carried it goes on serving."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from servicekit.errors import NUL_DETAIL
from testsupport.gcc_fixtures import CreatedOrganization, OrganizationFactory
from wrktalk_testing.connections import assert_connection_still_serves

IMAGE_TAGS = {"backend": "sha-b", "media": "sha-m", "controlTower": "sha-c", "agent": "sha-a"}
FOLLOWING_PATH = "/api/operator/fleet"
"""A request that answers 200 once the refused one is done."""


def create_body(**overrides: Any) -> dict[str, Any]:
    """A body of `POST /api/operator/organizations` for a new organization."""
    body: dict[str, Any] = {
        "name": "customer-y",
        "deploymentType": "kubernetes",
        "webhookEndpoint": "https://customer-y.example.com/api/deployment/webhook",
        "contacts": {"spocName": "Ada Admin", "spocEmail": "ada@customer-y.example.com"},
    }
    return {**body, **overrides}


def release_body(**overrides: Any) -> dict[str, Any]:
    """A body of `POST /api/internal/releases`."""
    body: dict[str, Any] = {"version": "2.3.0", "imageTags": IMAGE_TAGS, "releaseNotes": "Fixes"}
    return {**body, **overrides}


def status_report(organization: str) -> dict[str, Any]:
    return {
        "organizationName": organization,
        "releaseId": str(uuid.uuid4()),
        "status": "failed",
        "errorMessage": "helm said:\x00",
    }


@pytest.mark.parametrize(
    ("method", "path", "party", "body", "field"),
    [
        (
            "POST",
            "/api/operator/organizations",
            "operator",
            create_body(contacts={"spocName": "Ada\x00Admin"}),
            "contacts.spocName",
        ),
        (
            "POST",
            "/api/operator/organizations",
            "operator",
            create_body(webhookEndpoint="https://customer-y.example.com/\x00"),
            "webhookEndpoint",
        ),
        (
            "PATCH",
            "/api/operator/organizations/customer-x",
            "operator",
            {"contacts": {"spocPhone": "+1 555\x00"}},
            "contacts.spocPhone",
        ),
        (
            "POST",
            "/api/internal/releases",
            "ci",
            release_body(releaseNotes="Bug fixes\x00"),
            "releaseNotes",
        ),
        (
            "POST",
            "/api/internal/releases",
            "ci",
            release_body(newNonEssentialEnvs=[{"key": "NEW_FEATURE", "value": "\x00"}]),
            "newNonEssentialEnvs.0.value",
        ),
        ("POST", "/api/v1/deployments/status", "customer", None, "errorMessage"),
    ],
    ids=[
        "organization-contact",
        "organization-webhook",
        "organization-update",
        "release-notes",
        "release-variable",
        "deployment-report",
    ],
)
async def test_a_nul_in_a_body_field_is_a_422_naming_the_field(
    method: str,
    path: str,
    party: str,
    body: dict[str, Any] | None,
    field: str,
    gcc_client: httpx.AsyncClient,
    operator_headers: dict[str, str],
    ci_headers: dict[str, str],
    organization_factory: OrganizationFactory,
) -> None:
    customer: CreatedOrganization = await organization_factory("customer-x")
    headers = {"operator": operator_headers, "ci": ci_headers, "customer": customer.headers}[party]
    if body is None:
        body = status_report(customer.organization.name)

    response = await gcc_client.request(method, path, json=body, headers=headers)

    assert response.status_code == 422, response.text
    assert response.json()["field"] == field
    assert "NUL" in response.json()["detail"]
    await assert_connection_still_serves(gcc_client, response, FOLLOWING_PATH, operator_headers)


@pytest.mark.parametrize(
    ("method", "path", "params", "party", "field"),
    [
        ("GET", "/api/operator/organizations/customer%00x", None, "operator", "name"),
        ("DELETE", "/api/operator/organizations/%00", None, "operator", "name"),
        ("POST", "/api/v1/organizations/customer%00x/heartbeat", None, "customer", "name"),
        ("GET", "/api/v1/organizations/customer%00x/updates", None, "customer", "name"),
        ("GET", "/api/operator/escalations", {"organization": "customer\x00x"}, "operator", None),
        ("GET", "/api/operator/releases/2.3.0%00", None, "operator", "version"),
    ],
    ids=[
        "organization-path",
        "organization-delete",
        "heartbeat-path",
        "updates-path",
        "escalations-query",
        "release-path",
    ],
)
async def test_a_nul_in_a_path_or_query_parameter_is_a_4xx(
    method: str,
    path: str,
    params: dict[str, str] | None,
    party: str,
    field: str | None,
    gcc_client: httpx.AsyncClient,
    operator_headers: dict[str, str],
    organization_factory: OrganizationFactory,
) -> None:
    customer = await organization_factory("customer-x")
    headers = operator_headers if party == "operator" else customer.headers
    body = {"status": "healthy", "timestamp": "2026-06-01T12:00:00Z"} if method == "POST" else None

    response = await gcc_client.request(method, path, params=params, json=body, headers=headers)

    assert 400 <= response.status_code < 500, response.text
    assert response.json()["field"] == field
    if field is None:
        assert response.json() == {"error": "invalid_input", "detail": NUL_DETAIL, "field": None}
    await assert_connection_still_serves(gcc_client, response, FOLLOWING_PATH, operator_headers)
