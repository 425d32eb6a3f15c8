"""`gcc release redeliver` and `gcc org redeliver` against the test database and broker."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest
from click.testing import Result
from sqlmodel import select
from typer.testing import CliRunner

from contracts import DeploymentStatus, ReleaseStatus
from gcc.cli import app
from gcc.releases.models import DeploymentTarget
from gcc.settings import Settings
from servicekit.db import SessionFactory
from testsupport.gcc_fixtures import drain_broker

pytestmark = pytest.mark.usefixtures("gcc_command_environment")


async def run(*arguments: str) -> Result:
    """Invoke ``gcc`` in a thread: it runs its own event loop, as from a terminal."""
    return await asyncio.to_thread(CliRunner().invoke, app, list(arguments))


async def failed_targets(
    sessions: SessionFactory, release_id: uuid.UUID
) -> dict[uuid.UUID, DeploymentTarget]:
    """Mark every target of the release failed; return them by organization."""
    async with sessions() as session:
        targets = list(
            await session.exec(
                select(DeploymentTarget).where(DeploymentTarget.release_id == release_id)
            )
        )
        for target in targets:
            target.webhook_failed = True
            target.webhook_attempts = 3
            target.webhook_error = "HTTP 500: down"
            target.next_attempt_at = None
            target.status = DeploymentStatus.WEBHOOK_FAILED
            session.add(target)
        await session.commit()
        return {target.organization_id: target for target in targets}


async def is_failed(sessions: SessionFactory, target_id: uuid.UUID) -> bool:
    async with sessions() as session:
        target = await session.get(DeploymentTarget, target_id)
        assert target is not None
        return target.webhook_failed


async def test_release_redeliver_queues_every_failed_webhook_and_nudges_the_dispatch(
    organization_factory: Any,
    published_release: Any,
    gcc_sessions: SessionFactory,
    gcc_settings: Settings,
) -> None:
    first = await organization_factory("first")
    second = await organization_factory("second")
    release = await published_release([first.organization.id, second.organization.id])
    targets = await failed_targets(gcc_sessions, release.id)

    result = await run("release", "redeliver", "2.1.0")

    assert result.exit_code == 0, result.output
    assert result.output.strip() == (
        "release 2.1.0: failed webhooks queued again for 2 organizations: first, second"
    )
    assert not any([await is_failed(gcc_sessions, target.id) for target in targets.values()])
    assert drain_broker(gcc_settings.redis_url) == ["delivery.dispatch_due"]


async def test_org_redeliver_sends_only_that_organizations_webhook_again(
    organization_factory: Any,
    published_release: Any,
    gcc_sessions: SessionFactory,
    gcc_settings: Settings,
) -> None:
    first = await organization_factory("first")
    second = await organization_factory("second")
    release = await published_release([first.organization.id, second.organization.id])
    targets = await failed_targets(gcc_sessions, release.id)

    result = await run("org", "redeliver", "second", "--release", "2.1.0", "--json")
    nothing_left = await run("org", "redeliver", "second", "--release", "2.1.0")

    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"version": "2.1.0", "organizations": ["second"]}
    assert await is_failed(gcc_sessions, targets[first.organization.id].id)
    assert not await is_failed(gcc_sessions, targets[second.organization.id].id)
    assert nothing_left.output.strip() == "release 2.1.0: no failed delivery to send again"


@pytest.mark.parametrize(
    ("arguments", "exit_code", "message"),
    [
        (("release", "redeliver", "9.9.9"), 1, "error (version): There is no release 9.9.9"),
        (("release", "redeliver", "2.1.0"), 1, "error (version): Release 2.1.0 is draft"),
        (
            ("org", "redeliver", "nobody", "--release", "2.1.0"),
            1,
            "error (version): Release 2.1.0 is draft",
        ),
    ],
)
async def test_redeliver_refusals_are_one_line(
    published_release: Any,
    gcc_sessions: SessionFactory,
    arguments: tuple[str, ...],
    exit_code: int,
    message: str,
) -> None:
    await published_release([], status=ReleaseStatus.DRAFT)

    result = await run(*arguments)

    assert result.exit_code == exit_code, result.output
    [line] = result.stderr.splitlines()
    assert line.startswith(message), line


async def test_redeliver_to_an_unknown_organization_names_it(
    published_release: Any, gcc_sessions: SessionFactory
) -> None:
    await published_release([])

    result = await run("org", "redeliver", "nobody", "--release", "2.1.0")

    assert result.exit_code == 1
    assert result.stderr.strip() == "error (organization): There is no organization named nobody."
