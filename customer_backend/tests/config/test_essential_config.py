"""The essential configuration: values.yaml (Helm) or .env (Compose), stored as revisions."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
import pytest

from contracts import DeploymentType
from customer_backend.config import service
from objectstore import ObjectStore
from servicekit.db import SessionFactory
from servicekit.errors import InvalidInput
from timekeeping import ManualClock

ESSENTIAL = "/api/admin/config/essential"


async def read(store: ObjectStore, key: str) -> bytes:
    return b"".join([chunk async for chunk in store.iter_chunks(key)])


async def test_before_any_revision_the_essential_configuration_is_empty(
    backend_client: httpx.AsyncClient, admin_factory: Any
) -> None:
    admin = await admin_factory()

    response = await backend_client.get(ESSENTIAL, headers=admin.headers)

    assert response.status_code == 200
    assert response.json()["revision"] is None
    assert response.json()["content"] == ""
    assert response.json()["kind"] == "values"


async def test_saved_values_become_the_next_current_revision_in_the_bucket(
    backend_client: httpx.AsyncClient, admin_factory: Any, backend_store: ObjectStore
) -> None:
    admin = await admin_factory("ops@acme.example")
    content = "ingress:\n  host: chat.acme.example\n"

    saved = await backend_client.put(ESSENTIAL, json={"content": content}, headers=admin.headers)
    current = await backend_client.get(ESSENTIAL, headers=admin.headers)

    assert saved.status_code == 200, saved.text
    body = current.json()
    assert body["revision"] == 1
    assert body["bucketPath"] == "config/values.r1.yaml"
    assert body["content"] == content
    assert body["createdBy"] == "ops@acme.example"
    stored = await read(backend_store, "config/values.r1.yaml")
    assert stored == content.encode()
    assert body["sha256"] == hashlib.sha256(stored).hexdigest()


async def test_each_change_is_a_new_revision_and_older_ones_are_kept(
    backend_client: httpx.AsyncClient, admin_factory: Any
) -> None:
    admin = await admin_factory()
    for host in ("a", "b", "c"):
        response = await backend_client.put(
            ESSENTIAL, json={"content": f"host: {host}\n"}, headers=admin.headers
        )
        assert response.status_code == 200, response.text

    revisions = await backend_client.get(f"{ESSENTIAL}/revisions", headers=admin.headers)

    listed = revisions.json()["revisions"]
    assert [(r["revision"], r["isCurrent"]) for r in listed] == [(3, True), (2, False), (1, False)]
    assert listed[2]["bucketPath"] == "config/values.r1.yaml"


async def test_saving_the_current_text_again_adds_no_revision(
    backend_client: httpx.AsyncClient, admin_factory: Any
) -> None:
    admin = await admin_factory()
    await backend_client.put(ESSENTIAL, json={"content": "host: a\n"}, headers=admin.headers)

    again = await backend_client.put(
        ESSENTIAL, json={"content": "host: a\n"}, headers=admin.headers
    )

    assert again.json()["revision"] == 1


async def test_values_that_are_not_yaml_are_422_with_the_line(
    backend_client: httpx.AsyncClient, admin_factory: Any
) -> None:
    admin = await admin_factory()

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
    admin = await admin_factory()

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
        version = await service.save_essential_config(
            session,
            clock=gcc_clock,
            object_store=backend_store,
            deployment_type=DeploymentType.DOCKER,
            content=content,
            admin_email="ops@acme.example",
        )
        await session.commit()

    assert (version.revision, version.kind, version.bucket_key) == (1, "env", "config/env.r1")
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
            )

    assert raised.value.field == "content"
    assert raised.value.detail.startswith(line)


async def test_bad_env_line_is_not_echoed_with_its_value(
    backend_sessions: SessionFactory, backend_store: ObjectStore, gcc_clock: ManualClock
) -> None:
    async with backend_sessions() as session:
        with pytest.raises(InvalidInput) as raised:
            await service.save_essential_config(
                session,
                clock=gcc_clock,
                object_store=backend_store,
                deployment_type=DeploymentType.DOCKER,
                content="BAD KEY=supersecret\n",
                admin_email="ops@acme.example",
            )

    assert "supersecret" not in raised.value.detail


async def test_essential_configuration_without_an_admin_token_is_401(
    backend_client: httpx.AsyncClient,
) -> None:
    response = await backend_client.put(ESSENTIAL, json={"content": "a: 1\n"})

    assert response.status_code == 401
