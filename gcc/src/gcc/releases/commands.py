"""Operator commands: gcc release list|publish|deprecate.

Each command runs the same service function as the HTTP API, in one transaction on the
configured database; publishing enqueues webhook delivery on the configured broker.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

import typer
from sqlmodel.ext.asyncio.session import AsyncSession

from gcc.releases import service
from gcc.runtime import Runtime, open_runtime
from gcc.settings import Settings, get_settings
from servicekit.commands import run_command
from servicekit.db import session_scope

T = TypeVar("T")

releases_app = typer.Typer(help="Releases: list, publish, deprecate.", no_args_is_help=True)


def _task_sender(settings: Settings) -> Callable[..., None]:
    """Send Celery tasks to the configured broker, without configuring the worker's app,
    routed like every other sender (beat's tasks to their own queue)."""
    from celery import Celery

    from gcc.celery_app import BEAT_SCHEDULE
    from servicekit.worker import route_tasks

    sender = route_tasks(Celery("gcc-cli", broker=settings.redis_url), scheduled=BEAT_SCHEDULE)

    def send_task(name: str, *args: Any, **kwargs: Any) -> None:
        try:
            sender.send_task(name, args=args, kwargs=kwargs)
        except Exception as exc:  # the change is committed; beat catches up
            typer.echo(
                f"warning: could not enqueue {name} ({exc}); "
                "beat will pick the work up on its next run",
                err=True,
            )

    return send_task


def _run(work: Callable[[AsyncSession, Runtime], Awaitable[T]]) -> T:
    """Run ``work`` in one committed transaction; exit 1 with the reason when it fails."""
    settings = get_settings()

    async def main() -> T:
        async with (
            open_runtime(settings, send_task=_task_sender(settings)) as runtime,
            session_scope(runtime.session_factory) as session,
        ):
            return await work(session, runtime)

    return run_command(main)


def _when(moment: datetime | None) -> str:
    return moment.isoformat(timespec="seconds") if moment else "-"


@releases_app.command("list")
def list_releases() -> None:
    """List releases, newest first, with their status and how their targets stand."""

    async def work(session: AsyncSession, _: Runtime) -> None:
        listing = await service.list_releases(session)
        if not listing.releases:
            typer.echo("no releases")
            return
        typer.echo(f"{'VERSION':<20} {'STATUS':<11} {'PUBLISHED':<26} TARGETS (acked/failed)")
        for release in listing.releases:
            counts = release.targets
            typer.echo(
                f"{release.version!s:<20} {release.status!s:<11} "
                f"{_when(release.published_at):<26} "
                f"{counts.total} ({counts.acknowledged}/{counts.webhook_failed})"
            )

    _run(work)


@releases_app.command()
def publish(version: str = typer.Argument(..., help="The draft release to publish.")) -> None:
    """Publish a draft release: send its webhook to every eligible organization."""

    async def work(session: AsyncSession, runtime: Runtime) -> None:
        view = await service.publish_release(
            session, clock=runtime.clock, version_text=version, send_task=runtime.send_task
        )
        typer.echo(
            f"published {view.version}: {view.targets} organizations targeted, "
            f"{view.license_expired} with an expired license, "
            f"{view.below_min_version} below the minimum version, "
            f"{view.without_artifact} without an artifact for their deployment type"
        )

    _run(work)


@releases_app.command()
def deprecate(version: str = typer.Argument(..., help="The published release.")) -> None:
    """Deprecate a published release: the updates poll stops offering it."""

    async def work(session: AsyncSession, runtime: Runtime) -> None:
        release = await service.deprecate_release(
            session, clock=runtime.clock, version_text=version
        )
        typer.echo(f"deprecated {release.version}")

    _run(work)
