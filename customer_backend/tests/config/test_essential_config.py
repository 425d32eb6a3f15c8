"""The essential configuration: values.yaml (Helm) or .env (Compose), stored as revisions.

It holds the installation's secrets: only a support admin or the backend's command line saves
it, no answer and no log line carries a value, and every change is audited (who, with which
role, when, which keys)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from structlog.testing import capture_logs

from contracts import DeploymentType
from customer_backend.config import service
from objectstore import ObjectStore
from servicekit.db import SessionFactory
from servicekit.errors import Forbidden, InvalidInput
from timekeeping import ManualClock

ESSENTIAL = "/api/admin/config/essential"
SECRET_VALUES = (
    "database:\n  url: postgres://wrktalk:s3cr3t-pw@db/wrktalk\njwt:\n  secret: jwt-s3cr3t\n"
)


async def read(store: ObjectStore, key: str) -> bytes:
    return b"".join([chunk async for chunk in store.iter_chunks(key)])


async def test_before_any_revision_the_essential_configuration_is_empty(
    backend_client: httpx.AsyncClient, admin_factory: Any
) -> None:
    admin = await admin_factory()

    response = await backend_client.get(ESSENTIAL, headers=admin.headers)

    assert response.status_code == 200
    assert response.json()["revision"] is None
    assert response.json()["keys"] == []
    assert response.json()["kind"] == "values"


async def test_a_support_admin_saves_values_and_admins_see_keys_never_values(
    backend_client: httpx.AsyncClient, admin_factory: Any, backend_store: ObjectStore
) -> None:
    support = await admin_factory("vendor@wrktalk.example", role="support")
    admin = await admin_factory("ops@acme.example")

    saved = await backend_client.put(
        ESSENTIAL, json={"content": SECRET_VALUES}, headers=support.headers
    )
    seen_by_admin = await backend_client.get(ESSENTIAL, headers=admin.headers)
    seen_by_support = await backend_client.get(ESSENTIAL, headers=support.headers)

    assert saved.status_code == 200, saved.text
    body = seen_by_admin.json()
    assert body["revision"] == 1
    assert body["bucketPath"] == "config/values.r1.yaml"
    assert body["keys"] == ["database.url", "jwt.secret"]
    assert body["createdBy"] == "vendor@wrktalk.example"
    assert "content" not in body
    assert "sha256" not in body
    for answer in (saved, seen_by_admin, seen_by_support):
        assert "s3cr3t" not in answer.text
    assert await read(backend_store, "config/values.r1.yaml") == SECRET_VALUES.encode()


async def test_an_admin_cannot_change_the_essential_configuration(
    backend_client: httpx.AsyncClient, admin_factory: Any
) -> None:
    admin = await admin_factory()

    response = await backend_client.put(
        ESSENTIAL, json={"content": SECRET_VALUES}, headers=admin.headers
    )

    assert response.status_code == 403
    assert response.json()["error"] == "forbidden"
    assert "support" in response.json()["detail"]
    current = await backend_client.get(ESSENTIAL, headers=admin.headers)
    assert current.json()["revision"] is None


async def test_each_change_is_audited_with_who_when_and_which_keys(
    backend_client: httpx.AsyncClient, admin_factory: Any, gcc_clock: ManualClock
) -> None:
    support = await admin_factory("vendor@wrktalk.example", role="support")
    admin = await admin_factory("ops@acme.example")
    contents = (
        "host: a\nsmtp:\n  password: pw-one\n",
        "host: a\nsmtp:\n  password: pw-two\nredis: r\n",
        "smtp:\n  password: pw-two\nredis: r\n",
    )
    for content in contents:
        gcc_clock.advance(60)
        response = await backend_client.put(
            ESSENTIAL, json={"content": content}, headers=support.headers
        )
        assert response.status_code == 200, response.text

    revisions = await backend_client.get(f"{ESSENTIAL}/revisions", headers=admin.headers)

    listed = revisions.json()["revisions"]
    assert [(r["revision"], r["isCurrent"]) for r in listed] == [(3, True), (2, False), (1, False)]
    assert [(r["addedKeys"], r["changedKeys"], r["removedKeys"]) for r in listed] == [
        ([], [], ["host"]),
        (["redis"], ["smtp.password"], []),
        (["host", "smtp.password"], [], []),
    ]
    assert {(r["createdBy"], r["authorRole"]) for r in listed} == {
        ("vendor@wrktalk.example", "support")
    }
    assert listed[0]["createdAt"] > listed[1]["createdAt"] > listed[2]["createdAt"]
    assert listed[2]["bucketPath"] == "config/values.r1.yaml"
    assert "pw-" not in revisions.text
    assert "sha256" not in listed[0]


async def test_saving_the_current_text_again_adds_no_revision(
    backend_client: httpx.AsyncClient, admin_factory: Any
) -> None:
    admin = await admin_factory(role="support")
    await backend_client.put(ESSENTIAL, json={"content": "host: a\n"}, headers=admin.headers)

    again = await backend_client.put(
        ESSENTIAL, json={"content": "host: a\n"}, headers=admin.headers
    )

    assert again.json()["revision"] == 1


async def test_the_command_line_saves_a_revision_recorded_with_its_role(
    backend_sessions: SessionFactory, backend_store: ObjectStore, gcc_clock: ManualClock
) -> None:
    async with backend_sessions() as session:
        summary = await service.save_essential_config(
            session,
            clock=gcc_clock,
            object_store=backend_store,
            deployment_type=DeploymentType.DOCKER,
            content="DATABASE_URL=postgres://db\n",
            admin_email="root@backend-host",
            role=service.CLI_ROLE,
        )
        await session.commit()
        revisions = await service.list_essential_configs(
            session, deployment_type=DeploymentType.DOCKER
        )

    assert summary.keys == ["DATABASE_URL"]
    assert [(r.created_by, r.author_role, r.added_keys) for r in revisions] == [
        ("root@backend-host", "cli", ["DATABASE_URL"])
    ]


@pytest.mark.parametrize("role", ["admin", "system", ""])
async def test_the_service_refuses_every_other_role(
    backend_sessions: SessionFactory, backend_store: ObjectStore, gcc_clock: ManualClock, role: str
) -> None:
    async with backend_sessions() as session:
        with pytest.raises(Forbidden):
            await service.save_essential_config(
                session,
                clock=gcc_clock,
                object_store=backend_store,
                deployment_type=DeploymentType.KUBERNETES,
                content="a: 1\n",
                admin_email="ops@acme.example",
                role=role,
            )
        assert (
            await service.list_essential_configs(session, deployment_type=DeploymentType.KUBERNETES)
            == []
        )


async def test_the_audit_log_line_names_keys_and_never_values(
    backend_sessions: SessionFactory, backend_store: ObjectStore, gcc_clock: ManualClock
) -> None:
    with capture_logs() as logs:
        async with backend_sessions() as session:
            for content in ("JWT_SECRET=first-s3cr3t\n", "JWT_SECRET=second-s3cr3t\nA=b\n"):
                await service.save_essential_config(
                    session,
                    clock=gcc_clock,
                    object_store=backend_store,
                    deployment_type=DeploymentType.DOCKER,
                    content=content,
                    admin_email="vendor@wrktalk.example",
                    role="support",
                )
            await session.commit()

    saved = [entry for entry in logs if entry["event"] == "config.essential.saved"]
    assert [(e["revision"], e["added_keys"], e["changed_keys"]) for e in saved] == [
        (1, ["JWT_SECRET"], []),
        (2, ["A"], ["JWT_SECRET"]),
    ]
    assert saved[1]["author"] == "vendor@wrktalk.example"
    assert saved[1]["author_role"] == "support"
    assert "s3cr3t" not in repr(logs)


async def test_values_that_are_not_yaml_are_422_with_the_line(
    backend_client: httpx.AsyncClient, admin_factory: Any
) -> None:
    admin = await admin_factory(role="support")

    response = await backend_client.put(
        ESSENTIAL, json={"content": "host: a\n  bad: [unclosed\n"}, headers=admin.headers
    )

    assert response.status_code == 422
    assert response.json()["field"] == "content"
    assert "line 2" in response.json()["detail"]
    current = await backend_client.get(ESSENTIAL, headers=admin.headers)
    assert current.json()["revision"] is None


async def test_values_that_are_a_list_are_422(
    backend_client: httpx.AsyncClient, admin_factory: Any
) -> None:
    admin = await admin_factory(role="support")

    response = await backend_client.put(
        ESSENTIAL, json={"content": "- a\n- b\n"}, headers=admin.headers
    )

    assert response.status_code == 422
    assert "mapping" in response.json()["detail"]


async def test_compose_env_file_is_stored_as_an_env_revision(
    backend_sessions: SessionFactory, backend_store: ObjectStore, gcc_clock: ManualClock
) -> None:
    content = "# secrets\nDATABASE_URL=postgres://db/wrktalk\n\nJWT_SECRET=abc=def\n"
    async with backend_sessions() as session:
        summary = await service.save_essential_config(
            session,
            clock=gcc_clock,
            object_store=backend_store,
            deployment_type=DeploymentType.DOCKER,
            content=content,
            admin_email="ops@acme.example",
            role="support",
        )
        await session.commit()

    version = summary.version
    assert version is not None
    assert (version.revision, version.kind, version.bucket_key) == (1, "env", "config/env.r1")
    assert summary.keys == ["DATABASE_URL", "JWT_SECRET"]
    assert await read(backend_store, "config/env.r1") == content.encode()


@pytest.mark.parametrize(
    ("content", "line"),
    [
        ("A=1\nnot a pair\n", "Line 2"),
        ("A=1\n\n# fine\n1BAD=x\n", "Line 4"),
        ("A=1\nA=2\n", "Line 2"),
    ],
)
async def test_compose_env_file_with_a_bad_line_is_refused_naming_the_line(
    backend_sessions: SessionFactory,
    backend_store: ObjectStore,
    gcc_clock: ManualClock,
    content: str,
    line: str,
) -> None:
    async with backend_sessions() as session:
        with pytest.raises(InvalidInput) as raised:
            await service.save_essential_config(
                session,
                clock=gcc_clock,
                object_store=backend_store,
                deployment_type=DeploymentType.DOCKER,
                content=content,
                admin_email="ops@acme.example",
                role="support",
            )

    assert raised.value.field == "content"
    assert raised.value.detail.startswith(line)


@pytest.mark.parametrize("content", ["BAD KEY=supersecret\n", "A=1\nsupersecret\n"])
async def test_bad_env_line_is_not_echoed_with_its_value(
    backend_sessions: SessionFactory,
    backend_store: ObjectStore,
    gcc_clock: ManualClock,
    content: str,
) -> None:
    async with backend_sessions() as session:
        with pytest.raises(InvalidInput) as raised:
            await service.save_essential_config(
                session,
                clock=gcc_clock,
                object_store=backend_store,
                deployment_type=DeploymentType.DOCKER,
                content=content,
                admin_email="ops@acme.example",
                role="support",
            )

    assert "supersecret" not in raised.value.detail


async def test_essential_configuration_without_an_admin_token_is_401(
    backend_client: httpx.AsyncClient,
) -> None:
    response = await backend_client.put(ESSENTIAL, json={"content": "a: 1\n"})

    assert response.status_code == 401
