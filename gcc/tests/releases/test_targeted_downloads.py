"""A release that names its targets is theirs alone: no other organization can download its
artifacts or learn that they exist, whichever version text or artifact type it asks for."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from contracts import DeploymentType

ReleaseMaker = Callable[..., Awaitable[httpx.Response]]
ReadyRelease = Callable[..., Awaitable[None]]
OrganizationFactory = Callable[..., Awaitable[Any]]


async def download(
    client: httpx.AsyncClient, headers: dict[str, str], version: str, artifact_type: str = "helm"
) -> httpx.Response:
    return await client.get(
        f"/api/artifacts/charts/{version}", params={"type": artifact_type}, headers=headers
    )


async def test_a_targeted_release_is_downloaded_only_by_the_organizations_it_names(
    ready_release: ReadyRelease,
    publish: ReleaseMaker,
    organization_factory: OrganizationFactory,
    gcc_client: httpx.AsyncClient,
) -> None:
    acme = await organization_factory("acme")
    initech = await organization_factory("initech")
    globex = await organization_factory("globex")
    await ready_release("2.3.0", targets=["acme", "initech"])
    assert (await publish("2.3.0")).status_code == 200

    for customer in (acme, initech):
        assert (await download(gcc_client, customer.headers, "2.3.0")).status_code == 200
    refused = await download(gcc_client, globex.headers, "2.3.0")
    unknown = await download(gcc_client, globex.headers, "9.9.9")

    assert refused.status_code == 404
    assert refused.json()["error"] == unknown.json()["error"] == "not_found"
    # Worded as for a version that does not exist: nothing tells that the release does.
    assert refused.json()["detail"] == unknown.json()["detail"].replace("9.9.9", "2.3.0")
    assert "acme" not in refused.text


@pytest.mark.parametrize(
    ("version", "artifact_type"),
    [("2.3.0", "compose"), ("v2.3.0", "helm"), ("2.3.0+other", "helm")],
    ids=["compose", "v-prefix", "build-metadata"],
)
async def test_another_organization_finds_no_way_around_the_targets(
    ready_release: ReadyRelease,
    publish: ReleaseMaker,
    organization_factory: OrganizationFactory,
    gcc_client: httpx.AsyncClient,
    version: str,
    artifact_type: str,
) -> None:
    await organization_factory("acme", deployment_type=DeploymentType.DOCKER)
    globex = await organization_factory("globex", deployment_type=DeploymentType.DOCKER)
    await ready_release("2.3.0", compose=True, targets=["acme"])
    assert (await publish("2.3.0")).status_code == 200

    response = await download(gcc_client, globex.headers, version, artifact_type)

    assert response.status_code == 404


async def test_a_deprecated_targeted_release_stays_with_its_targets(
    ready_release: ReadyRelease,
    publish: ReleaseMaker,
    organization_factory: OrganizationFactory,
    gcc_client: httpx.AsyncClient,
    ci_headers: dict[str, str],
) -> None:
    acme = await organization_factory("acme")
    globex = await organization_factory("globex")
    await ready_release("2.3.0", targets=["acme"])
    assert (await publish("2.3.0")).status_code == 200
    deprecated = await gcc_client.post("/api/internal/releases/2.3.0/deprecate", headers=ci_headers)
    assert deprecated.status_code == 200, deprecated.text

    assert (await download(gcc_client, acme.headers, "2.3.0")).status_code == 200
    assert (await download(gcc_client, globex.headers, "2.3.0")).status_code == 404


async def test_a_release_for_every_organization_is_downloaded_by_each(
    ready_release: ReadyRelease,
    publish: ReleaseMaker,
    organization_factory: OrganizationFactory,
    gcc_client: httpx.AsyncClient,
) -> None:
    acme = await organization_factory("acme")
    await ready_release("2.3.0")
    assert (await publish("2.3.0")).status_code == 200
    # An organization added after the publication still gets its artifacts (to install the
    # version it starts on, or go back to it).
    later = await organization_factory("later")

    for customer in (acme, later):
        assert (await download(gcc_client, customer.headers, "2.3.0")).status_code == 200
