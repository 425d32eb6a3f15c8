from datetime import timedelta
from typing import Any

import httpx

from gcc.organizations.models import VersionHistory
from servicekit.db import SessionFactory
from timekeeping import ManualClock


async def test_version_history_lists_deployments_newest_first(
    gcc_client: httpx.AsyncClient,
    operator_headers: dict[str, str],
    organization_factory: Any,
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
) -> None:
    created = await organization_factory("acme")
    now = gcc_clock.now()
    async with gcc_sessions() as session:
        for minutes, version, is_rollback in (
            (0, "1.1.0", False),
            (5, "1.2.0", False),
            (9, "1.1.0", True),
        ):
            session.add(
                VersionHistory(
                    organization_id=created.organization.id,
                    release_version=version,
                    status="success",
                    is_rollback=is_rollback,
                    deployed_at=now + timedelta(minutes=minutes),
                )
            )
        await session.commit()

    response = await gcc_client.get(
        "/api/operator/organizations/acme/versions", headers=operator_headers
    )

    assert response.status_code == 200
    versions = response.json()["versions"]
    assert [(entry["releaseVersion"], entry["isRollback"]) for entry in versions] == [
        ("1.1.0", True),
        ("1.2.0", False),
        ("1.1.0", False),
    ]


async def test_version_history_of_an_unknown_organization_is_404(
    gcc_client: httpx.AsyncClient, operator_headers: dict[str, str]
) -> None:
    response = await gcc_client.get(
        "/api/operator/organizations/nobody/versions", headers=operator_headers
    )
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


async def test_version_history_needs_the_operator_token(
    gcc_client: httpx.AsyncClient, ci_headers: dict[str, str]
) -> None:
    response = await gcc_client.get("/api/operator/organizations/acme/versions", headers=ci_headers)
    assert response.status_code == 401
