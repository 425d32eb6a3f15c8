"""Admin commands: ``customer-backend releases`` and ``deployments list|show|logs``, on the same
services as the Control Tower's deployment API (what changes a deployment is in
:mod:`customer_backend.deployments.scheduling_commands`)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence

import typer

from contracts import (
    DeploymentDetailView,
    DeploymentHistoryView,
    DeploymentLogLineView,
    LocalDeploymentStatus,
    ScheduledDeploymentView,
)
from customer_backend.command_runtime import run_in_database
from customer_backend.deployments import history, service
from customer_backend.settings import get_settings
from servicekit.commands import run_command
from servicekit.db import create_engine, create_session_factory, session_scope
from servicekit.failures import command_group
from servicekit.output import (
    Column,
    minute,
    print_json,
    print_page_footer,
    print_table,
)

deployments_app = command_group(
    "Deployments: what ran (list), one of them (show), its logs; schedule, cancel, rollback."
)

RELEASE_COLUMNS = [
    Column("DEPLOYMENT ID", 36),
    Column("VERSION", 14),
    Column("STATUS", 16),
    Column("READY", 5),
    Column("WHEN (UTC)", 16),
    Column("NOTE", 20),
]

HISTORY_COLUMNS = [
    Column("DEPLOYMENT ID", 36),
    Column("VERSION", 14),
    Column("KIND", 8),
    Column("STATUS", 11),
    Column("FINISHED (UTC)", 16),
    Column("NOW", 3),
]

TASK_COLUMNS = [
    Column("TASK ID", 36),
    Column("TYPE", 11),
    Column("STATUS", 10),
    Column("STARTED (UTC)", 16),
    Column("ERROR", 30),
]


def _release_note(view: ScheduledDeploymentView) -> str:
    notes = []
    if view.is_forced:
        notes.append(f"forced, by {minute(view.force_deadline)}")
    if view.is_migration_required:
        notes.append("migrates data")
    if view.error_message:
        notes.append(view.error_message)
    return "; ".join(notes)


def print_releases(title: str, releases: Sequence[ScheduledDeploymentView]) -> None:
    """A titled table of received releases (pending or scheduled)."""
    typer.echo(f"{title}: {len(releases) or 'none'}")
    if not releases:
        return
    print_table(
        RELEASE_COLUMNS,
        [
            (
                view.id,
                view.version,
                view.status,
                view.is_chart_downloaded,
                minute(view.scheduled_for or view.created_at),
                _release_note(view),
            )
            for view in releases
        ],
    )


def releases(
    status: LocalDeploymentStatus | None = typer.Option(None, help="Only deployments in this."),
    json_output: bool = typer.Option(
        False, "--json", help="JSON, as GET /api/admin/deployment/releases answers."
    ),
) -> None:
    """Received releases: those waiting for an admin (pending) and those scheduled or running.

    READY says the release is downloaded and verified, which scheduling needs; WHEN is the
    scheduled time, or when the release arrived. Schedule one with `deployments schedule`.
    """
    answer = run_in_database(lambda session: service.list_releases(session, status=status))
    if json_output:
        print_json(answer)
        return
    print_releases("pending", answer.pending)
    typer.echo("")
    print_releases("scheduled or running", answer.scheduled)


def print_history(entries: Sequence[DeploymentHistoryView]) -> None:
    """What ran, as a table."""
    print_table(
        HISTORY_COLUMNS,
        [
            (
                entry.deployment_id,
                entry.version,
                "rollback" if entry.is_rollback else "deploy",
                entry.status,
                minute(entry.deployed_at),
                "yes" if entry.is_current else "",
            )
            for entry in entries
        ],
    )


@deployments_app.command("list")
def list_(
    limit: int = typer.Option(50, min=1, max=1000, help="At most this many."),
    offset: int = typer.Option(0, min=0, help="Skip this many (the next page)."),
    json_output: bool = typer.Option(False, "--json", help="JSON, as the history entries."),
) -> None:
    """Deployments and rollbacks that ran, newest first, a page at a time; each DEPLOYMENT ID
    opens with `deployments show` and `deployments logs`."""
    entries = run_in_database(
        lambda session: history.history(session, limit=limit + 1, offset=offset)
    )
    more = len(entries) > limit
    entries = entries[:limit]
    if json_output:
        print_json(entries)
        return
    print_history(entries)
    print_page_footer(
        shown=len(entries),
        offset=offset,
        total=None if more else offset + len(entries),
        noun="deployments",
    )


@deployments_app.command("show")
def show(
    deployment_id: uuid.UUID = typer.Argument(
        ..., help="A deployment's id, or a rollback's (as `deployments list` shows them)."
    ),
    json_output: bool = typer.Option(
        False, "--json", help="JSON, as GET /api/admin/deployment/{id} answers."
    ),
) -> None:
    """A deployment (or a rollback) with its agent tasks, their results and timings."""
    detail = run_in_database(
        lambda session: history.deployment_detail(session, deployment_id=deployment_id)
    )
    if json_output:
        print_json(detail)
        return
    print_detail(detail)


def print_detail(detail: DeploymentDetailView) -> None:
    """A deployment's facts, then its tasks."""
    deployment = detail.deployment
    if deployment is None:
        typer.echo("rollback (it belongs to no received release)")
    else:
        typer.echo(f"{deployment.release_name} ({deployment.version}): {deployment.status}")
        forced = f"yes, by {minute(deployment.force_deadline)}" if deployment.is_forced else "no"
        facts = [
            ("received", minute(deployment.created_at)),
            ("downloaded", "yes" if deployment.is_chart_downloaded else "no"),
            ("forced", forced),
            ("scheduled for", minute(deployment.scheduled_for)),
            ("scheduled by", deployment.scheduled_by or "-"),
            ("started", minute(deployment.started_at)),
            ("completed", minute(deployment.completed_at)),
            ("helm revision", str(deployment.helm_revision or "-")),
            ("error", deployment.error_message or "-"),
        ]
        for name, value in facts:
            typer.echo(f"  {name + ':':<15}{value}")
    typer.echo("")
    if not detail.tasks:
        typer.echo("no agent task yet")
        return
    print_table(
        TASK_COLUMNS,
        [
            (task.id, task.type, task.status, minute(task.picked_up_at), task.error_message)
            for task in detail.tasks
        ],
    )


def _print_lines(lines: Sequence[DeploymentLogLineView], *, json_output: bool) -> None:
    for line in lines:
        if json_output:
            typer.echo(line.model_dump_json(by_alias=True))
        else:
            stamp = line.timestamp.isoformat(timespec="seconds")
            typer.echo(f"{stamp} {line.stream:<6} {line.line}")


@deployments_app.command("logs")
def logs(
    deployment_id: uuid.UUID = typer.Argument(
        ..., help="A deployment's id, a rollback's, or an agent task's."
    ),
    follow: bool = typer.Option(
        False, "--follow", "-f", help="Keep printing new lines until every task has ended."
    ),
    after_id: int = typer.Option(0, min=0, help="Only lines after this line id."),
    poll_seconds: float = typer.Option(
        1.0, min=0.05, max=60, help="With --follow, how often to look for new lines."
    ),
    json_output: bool = typer.Option(
        False, "--json", help="One JSON object per line, as the log stream's events carry."
    ),
) -> None:
    """The stored log lines of a deployment (every one of its tasks) or of one task, oldest
    first; with --follow, the new ones too, as the agent sends them, until the work ends."""
    engine = create_engine(get_settings().database_url, pool_size=1)
    sessions = create_session_factory(engine)

    async def main() -> None:
        cursor = after_id
        try:
            while True:
                # a transaction per page: a follow may last an hour and must see new lines
                async with session_scope(sessions) as session:
                    page = await history.log_page(session, target_id=deployment_id, after_id=cursor)
                _print_lines(page.lines, json_output=json_output)
                cursor = page.next_after_id
                if len(page.lines) == history.MAX_LOG_PAGE:
                    continue
                if page.is_finished or not follow:
                    return
                await asyncio.sleep(poll_seconds)
        finally:
            await engine.dispose()

    run_command(main)
