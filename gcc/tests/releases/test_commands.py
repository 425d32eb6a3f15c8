"""`gcc release list|publish|deprecate` against the test database and broker."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from click.testing import Result
from sqlmodel import select
from typer.testing import CliRunner

from gcc.releases.commands import releases_app
from gcc.releases.models import DeploymentTarget, Release
from gcc.settings import Settings, get_settings
from servicekit.db import SessionFactory

ReadyRelease = Callable[..., Awaitable[None]]
OrganizationFactory = Callable[..., Awaitable[Any]]


@pytest.fixture
def command_environment(gcc_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Point the command's settings (read from GCC_* variables) at the test services."""
    monkeypatch.setenv("GCC_DATABASE_URL", gcc_settings.database_url)
    monkeypatch.setenv("GCC_REDIS_URL", gcc_settings.redis_url)
    monkeypatch.setenv("GCC_S3_ENDPOINT_URL", gcc_settings.s3_endpoint_url or "")
    monkeypatch.setenv("GCC_BUCKET_NAME", gcc_settings.bucket_name)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


async def run(*arguments: str) -> Result:
    """Invoke the command in a thread: it runs its own event loop, as from a terminal."""
    return await asyncio.to_thread(CliRunner().invoke, releases_app, list(arguments))


async def test_publish_command_publishes_the_draft_and_creates_targets(
    command_environment: None,
    ready_release: ReadyRelease,
    organization_factory: OrganizationFactory,
    gcc_sessions: SessionFactory,
) -> None:
    await organization_factory("kube")
    await ready_release("2.3.0")

    result = await run("publish", "2.3.0")

    assert result.exit_code == 0, result.output
    assert "published 2.3.0: 1 organizations targeted" in result.output
    async with gcc_sessions() as session:
        release = (await session.exec(select(Release))).one()
        targets = (await session.exec(select(DeploymentTarget))).all()
    assert release.status == "published"
    assert len(targets) == 1


async def test_list_command_prints_each_release_with_its_status(
    command_environment: None, ready_release: ReadyRelease
) -> None:
    await ready_release("2.3.0")

    result = await run("list")

    assert result.exit_code == 0, result.output
    [header, line, footer] = result.output.strip().splitlines()
    assert header.startswith("VERSION")
    assert line.split()[:3] == ["2.3.0", "draft", "no"]
    assert footer == "releases 1-1 of 1"


async def test_list_command_pages_and_prints_the_apis_json(
    command_environment: None, ready_release: ReadyRelease
) -> None:
    for version in ("2.1.0", "2.2.0", "2.3.0"):
        await ready_release(version)

    page = await run("list", "--limit", "2", "--offset", "1")
    as_json = await run("list", "--json")

    assert page.exit_code == 0, page.output
    lines = page.output.splitlines()
    assert [line.split()[0] for line in lines[1:3]] == ["2.2.0", "2.1.0"]
    assert lines[-1] == "releases 2-3 of 3"
    assert [item["version"] for item in json.loads(as_json.output)["releases"]] == [
        "2.3.0",
        "2.2.0",
        "2.1.0",
    ]


async def test_list_command_says_when_there_are_no_releases(
    command_environment: None, gcc_sessions: SessionFactory
) -> None:
    result = await run("list")

    assert (result.exit_code, result.output.splitlines()[-1]) == (0, "no releases")


async def test_deprecate_command_deprecates_a_published_release(
    command_environment: None, ready_release: ReadyRelease, gcc_sessions: SessionFactory
) -> None:
    await ready_release("2.3.0")
    assert (await run("publish", "2.3.0")).exit_code == 0

    result = await run("deprecate", "2.3.0")

    assert result.exit_code == 0, result.output
    assert "deprecated 2.3.0" in result.output
    async with gcc_sessions() as session:
        assert (await session.exec(select(Release))).one().status == "deprecated"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("publish", "9.9.9"), "There is no release 9.9.9"),
        (("publish", "nine"), "version"),
        (("deprecate", "9.9.9"), "There is no release 9.9.9"),
    ],
)
async def test_command_on_a_bad_version_exits_1_with_the_reason(
    command_environment: None,
    gcc_sessions: SessionFactory,
    arguments: tuple[str, ...],
    message: str,
) -> None:
    result = await run(*arguments)

    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output
