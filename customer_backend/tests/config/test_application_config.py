"""The application reads its non-essential settings at run time (spec 4.2 step 3): the route
`GET /api/app/config` with its own token and an ETag, and the typed client of `libs/appconfig`
against the backend served on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from appconfig import (
    AppConfigClient,
    AppConfigUnauthorized,
    AppConfigUnavailable,
    AppConfigValueError,
)
from contracts import APPLICATION_CONFIG_PATH
from customer_backend.deps import require_application
from customer_backend.settings import Settings
from servicekit.errors import Unauthorized
from testsupport.backend_fixtures import APP_CONFIG_TOKEN
from wrktalk_testing.network import free_port
from wrktalk_testing.relay import relay
from wrktalk_testing.servers import ServedApp

APPLICATION = APPLICATION_CONFIG_PATH
CONFIG = "/api/admin/config"
APP_HEADERS = {"Authorization": f"Bearer {APP_CONFIG_TOKEN}"}


class Ticks:
    """The monotonic clock the client measures its cache age with, moved by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class StatusLog:
    """Every status the backend answered the client with, in order."""

    def __init__(self) -> None:
        self.statuses: list[int] = []

    async def __call__(self, response: httpx.Response) -> None:
        self.statuses.append(response.status_code)


@pytest.fixture
async def admin_headers(backend_client: httpx.AsyncClient, admin_factory: Any) -> dict[str, str]:
    admin = await admin_factory("ops@acme.example")
    for key, value in (("FEATURE_X", "true"), ("API_RATE_LIMIT", "120")):
        response = await backend_client.post(
            CONFIG, json={"key": key, "value": value}, headers=admin.headers
        )
        assert response.status_code == 201, response.text
    headers: dict[str, str] = admin.headers
    return headers


@pytest.fixture
async def status_log() -> StatusLog:
    return StatusLog()


@pytest.fixture
async def http_client(status_log: StatusLog) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10, event_hooks={"response": [status_log]}) as client:
        yield client


async def test_the_application_reads_every_variable_with_an_entity_tag(
    backend_client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await backend_client.get(APPLICATION, headers=APP_HEADERS)

    assert response.status_code == 200, response.text
    assert response.json() == {"variables": {"API_RATE_LIMIT": "120", "FEATURE_X": "true"}}
    assert response.headers["ETag"].startswith('"')
    assert response.headers["Cache-Control"] == "no-cache"


async def test_the_route_the_client_calls_is_in_the_backends_openapi_document(
    backend_client: httpx.AsyncClient,
) -> None:
    document = (await backend_client.get("/openapi.json")).json()

    operation = document["paths"][APPLICATION_CONFIG_PATH]["get"]
    assert {"200", "304", "401"} <= set(operation["responses"])


async def test_the_same_entity_tag_is_304_without_a_body_until_a_value_changes(
    backend_client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    first = await backend_client.get(APPLICATION, headers=APP_HEADERS)
    tag = first.headers["ETag"]

    unchanged = await backend_client.get(APPLICATION, headers={**APP_HEADERS, "If-None-Match": tag})
    weak = await backend_client.get(
        APPLICATION, headers={**APP_HEADERS, "If-None-Match": f'"other", W/{tag}'}
    )
    await backend_client.patch(
        f"{CONFIG}/FEATURE_X", json={"value": "false"}, headers=admin_headers
    )
    changed = await backend_client.get(APPLICATION, headers={**APP_HEADERS, "If-None-Match": tag})

    assert unchanged.status_code == 304
    assert unchanged.content == b""
    assert unchanged.headers["ETag"] == tag
    assert weak.status_code == 304
    assert changed.status_code == 200
    assert changed.json()["variables"]["FEATURE_X"] == "false"
    assert changed.headers["ETag"] != tag


async def test_a_removed_variable_changes_the_entity_tag(
    backend_client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    tag = (await backend_client.get(APPLICATION, headers=APP_HEADERS)).headers["ETag"]
    await backend_client.delete(f"{CONFIG}/API_RATE_LIMIT", headers=admin_headers)

    response = await backend_client.get(APPLICATION, headers={**APP_HEADERS, "If-None-Match": tag})

    assert response.status_code == 200
    assert response.json() == {"variables": {"FEATURE_X": "true"}}


async def test_an_admin_token_or_a_wrong_token_is_refused(
    backend_client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    as_admin = await backend_client.get(APPLICATION, headers=admin_headers)
    wrong = await backend_client.get(
        APPLICATION, headers={"Authorization": f"Bearer {APP_CONFIG_TOKEN}x"}
    )

    assert as_admin.status_code == 401
    assert wrong.status_code == 401
    assert wrong.json() == {
        "error": "unauthorized",
        "detail": "The app config token is not valid.",
        "field": None,
    }


async def test_without_a_configured_token_the_route_refuses_everyone(
    backend_settings: Settings,
) -> None:
    switched_off = backend_settings.model_copy(update={"app_config_token": SecretStr("")})

    with pytest.raises(Unauthorized, match="WRKTALK_APP_CONFIG_TOKEN"):
        await require_application(switched_off, authorization="Bearer ")
    with pytest.raises(Unauthorized, match="WRKTALK_APP_CONFIG_TOKEN"):
        await require_application(switched_off, authorization="Bearer anything")


async def test_the_client_answers_from_memory_then_revalidates_with_the_entity_tag(
    backend_server: ServedApp,
    backend_client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    http_client: httpx.AsyncClient,
    status_log: StatusLog,
) -> None:
    ticks = Ticks()
    settings = AppConfigClient(
        backend_server.base_url,
        APP_CONFIG_TOKEN,
        max_age=30,
        http_client=http_client,
        monotonic=ticks,
    )

    first = await settings.get_bool("FEATURE_X", default=False)
    ticks.now += 29
    cached = await settings.get_int("API_RATE_LIMIT", default=60)
    ticks.now += 2
    revalidated = await settings.get("FEATURE_X")
    await backend_client.patch(f"{CONFIG}/FEATURE_X", json={"value": "off"}, headers=admin_headers)
    ticks.now += 31
    changed = await settings.get_bool("FEATURE_X", default=True)

    assert (first, cached, revalidated, changed) == (True, 120, "true", False)
    assert status_log.statuses == [200, 304, 200]
    assert await settings.get("MISSING", "fallback") == "fallback"
    assert await settings.get_int("MISSING", default=7) == 7


async def test_the_client_serves_its_last_answer_while_the_backend_is_unreachable(
    backend_server: ServedApp, admin_headers: dict[str, str], http_client: httpx.AsyncClient
) -> None:
    ticks = Ticks()
    with relay(free_port(), backend_server.port) as link:
        settings = AppConfigClient(
            f"http://127.0.0.1:{link.listen_port}",
            APP_CONFIG_TOKEN,
            max_age=5,
            http_client=http_client,
            monotonic=ticks,
        )
        assert await settings.get("FEATURE_X") == "true"
        link.cut()
        ticks.now += 10

        assert await settings.get("FEATURE_X") == "true"
        with pytest.raises(AppConfigUnavailable):
            await settings.refresh()


async def test_the_client_without_an_answer_raises_when_the_backend_is_unreachable(
    http_client: httpx.AsyncClient,
) -> None:
    settings = AppConfigClient(
        f"http://127.0.0.1:{free_port()}", APP_CONFIG_TOKEN, http_client=http_client
    )

    with pytest.raises(AppConfigUnavailable, match="could not be reached"):
        await settings.current()
    assert settings.cached is None


async def test_the_client_raises_on_a_refused_token(
    backend_server: ServedApp, admin_headers: dict[str, str], http_client: httpx.AsyncClient
) -> None:
    wrong = AppConfigClient(backend_server.base_url, "not-the-token", http_client=http_client)

    with pytest.raises(AppConfigUnauthorized):
        await wrong.current()


async def test_a_value_of_the_wrong_type_is_an_error_naming_the_variable(
    backend_server: ServedApp, admin_headers: dict[str, str]
) -> None:
    async with AppConfigClient(backend_server.base_url, APP_CONFIG_TOKEN) as settings:
        with pytest.raises(AppConfigValueError, match="API_RATE_LIMIT"):
            await settings.get_bool("API_RATE_LIMIT", default=False)
        with pytest.raises(AppConfigValueError, match="FEATURE_X"):
            await settings.get_int("FEATURE_X", default=0)
