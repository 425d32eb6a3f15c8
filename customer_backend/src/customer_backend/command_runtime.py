"""How an admin command runs: the process's runtime, one committed session, and who acts.

Admin commands (``customer-backend deployments schedule``, ``maintenance on``, ...) call the
same service functions as the Control Tower API, in one transaction on the configured database,
with the configured bucket, GCC client and broker; work they start is sent to the broker after
the commit, as the API's is. They run on the backend's host, so they need no admin token: what
they change is recorded as done by ``--by`` (by default the host's user, marked as the command
line).
"""

from __future__ import annotations

import getpass
import socket
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer
from sqlmodel.ext.asyncio.session import AsyncSession

from customer_backend.runtime import Runtime, open_runtime, task_sender
from customer_backend.settings import get_settings
from servicekit.commands import run_command, run_in_session
from servicekit.db import session_scope

T = TypeVar("T")

MAX_ACTOR_LENGTH = 320
"""Longest name recorded as who did something (the columns' limit)."""


def command_line_actor() -> str:
    """Who a command acts as unless ``--by`` says: ``user@host (command line)``."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no user name in a bare container
        user = "unknown"
    return f"{user}@{socket.gethostname()} (command line)"[:MAX_ACTOR_LENGTH]


ActorOption = Annotated[
    str,
    typer.Option(
        "--by",
        help="Who the change is recorded as done by, such as your email (default: "
        "USER@HOST (command line)).",
        show_default=False,
    ),
]
"""The ``--by`` option of a command that changes something (default ``""``)."""


def actor(by: str) -> str:
    """``--by``, or the command line's user and host when it is empty."""
    text = by.strip()
    return text[:MAX_ACTOR_LENGTH] if text else command_line_actor()


def run_in_database(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run ``work`` in one committed transaction against the configured database."""
    return run_in_session(get_settings().database_url, work)


def run_with_runtime(work: Callable[[AsyncSession, Runtime], Awaitable[T]]) -> T:
    """Run ``work`` in one committed transaction with the process's runtime (bucket, GCC
    client, broker)."""
    settings = get_settings()

    async def main() -> T:
        async with (
            open_runtime(settings, send_task=task_sender(settings)) as runtime,
            session_scope(runtime.session_factory) as session,
        ):
            return await work(session, runtime)

    return run_command(main)
