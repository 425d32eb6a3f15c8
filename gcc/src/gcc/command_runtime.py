"""How an operator command runs: the process's runtime, one committed session, the broker.

Commands call the same service functions as the API, in one transaction on the configured
database; work they start (publishing, redelivery) is sent to the configured broker after the
commit, as the API's is.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import typer
from sqlmodel.ext.asyncio.session import AsyncSession

from gcc.runtime import Runtime, open_runtime
from gcc.settings import Settings, get_settings
from servicekit.commands import run_command
from servicekit.db import session_scope

T = TypeVar("T")


def task_sender(settings: Settings) -> Callable[..., None]:
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


def run_with_runtime(work: Callable[[AsyncSession, Runtime], Awaitable[T]]) -> T:
    """Run ``work`` in one committed transaction with the process's runtime."""
    settings = get_settings()

    async def main() -> T:
        async with (
            open_runtime(settings, send_task=task_sender(settings)) as runtime,
            session_scope(runtime.session_factory) as session,
        ):
            return await work(session, runtime)

    return run_command(main)
