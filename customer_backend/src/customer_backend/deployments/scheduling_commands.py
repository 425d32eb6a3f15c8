"""Admin commands that change a deployment: ``deployments schedule|cancel|rollback`` and
``task show|cancel``, on the same services as the Control Tower's API.

Each runs in one transaction with the process's runtime, recorded as done by ``--by``; the work
it queues for the agent is the API's (the agent picks it up on its next poll).
"""

from __future__ import annotations

import uuid
from typing import Any

import typer

from contracts import (
    AgentTaskDetailView,
    RollbackRequest,
    RollbackResponse,
    ScheduleDeploymentRequest,
    ScheduleDeploymentResponse,
)
from customer_backend.command_runtime import ActorOption, actor, run_in_database, run_with_runtime
from customer_backend.deployments import rollback, service, task_admin
from customer_backend.deployments.commands import deployments_app
from servicekit.commands import validated
from servicekit.failures import command_group
from servicekit.output import Column, minute, print_json, print_table

tasks_app = command_group("Agent tasks (a deploy, a rollback, a maintenance switch): show, cancel.")


@deployments_app.command("schedule")
def schedule(
    deployment_id: uuid.UUID = typer.Argument(
        ..., help="The pending deployment's id (as `releases` shows it)."
    ),
    at: str = typer.Option(
        ...,
        "--at",
        help="When to deploy: ISO 8601 with a time zone, in the future (2026-12-15T02:00:00Z).",
    ),
    by: ActorOption = "",
    json_output: bool = typer.Option(False, "--json", help="JSON, as the API answers."),
) -> None:
    """Schedule a downloaded release; the agent deploys it at that time (refused while another
    deployment is scheduled or running)."""
    request = validated(
        ScheduleDeploymentRequest, {"deploymentId": deployment_id, "scheduledFor": at}
    )
    task = run_with_runtime(
        lambda session, runtime: service.schedule_deployment(
            session,
            clock=runtime.clock,
            settings=runtime.settings,
            object_store=runtime.object_store,
            deployment_id=request.deployment_id,
            scheduled_for=request.scheduled_for,
            admin_email=actor(by),
        )
    )
    if json_output:
        print_json(ScheduleDeploymentResponse(scheduled=True, task_id=task.id))
        return
    typer.echo(
        f"scheduled {deployment_id} for {request.scheduled_for.isoformat()}; agent task {task.id}"
    )


@deployments_app.command("cancel")
def cancel(
    deployment_id: uuid.UUID = typer.Argument(..., help="The scheduled deployment's id."),
    by: ActorOption = "",
) -> None:
    """Cancel a scheduled deployment the agent has not started."""
    deployment = run_with_runtime(
        lambda session, runtime: service.cancel_deployment(
            session,
            clock=runtime.clock,
            settings=runtime.settings,
            deployment_id=deployment_id,
            admin_email=actor(by),
        )
    )
    typer.echo(f"cancelled {deployment.release_name} ({deployment.id})")


@deployments_app.command("rollback")
def rollback_(
    revision: int | None = typer.Option(
        None, "--revision", help="Helm revision to roll back to (kubernetes)."
    ),
    version: str | None = typer.Option(
        None, "--version", help="Version to deploy again, with the configuration it ran with."
    ),
    by: ActorOption = "",
    json_output: bool = typer.Option(False, "--json", help="JSON, as the API answers."),
) -> None:
    """Roll back: to the previous revision or version when neither option is given, else to the
    one named; the agent runs it on its next poll."""
    raw: dict[str, Any] = {"targetRevision": revision, "targetVersion": version}
    request = validated(
        RollbackRequest, {key: value for key, value in raw.items() if value is not None}
    )
    task = run_with_runtime(
        lambda session, runtime: rollback.request_rollback(
            session,
            clock=runtime.clock,
            settings=runtime.settings,
            object_store=runtime.object_store,
            gcc=runtime.gcc,
            request=request,
            admin_email=actor(by),
        )
    )
    if json_output:
        print_json(RollbackResponse(rollback_initiated=True, task_id=task.id))
        return
    typer.echo(f"rollback queued: agent task {task.id} (follow it with `deployments logs -f`)")


TIMELINE_COLUMNS = [Column("EVENT", 13), Column("AT (UTC)", 16), Column("DETAIL", 67)]


@tasks_app.command("show")
def show_task(
    task_id: uuid.UUID = typer.Argument(..., help="The agent task's id."),
    json_output: bool = typer.Option(
        False, "--json", help="JSON, as GET /api/admin/deployment/tasks/{id} answers."
    ),
) -> None:
    """An agent task: its status and result, what happened to it when, its latest log lines."""
    detail = run_in_database(lambda session: task_admin.task_detail(session, task_id=task_id))
    if json_output:
        print_json(detail)
        return
    _print_task(detail)


def _print_task(detail: AgentTaskDetailView) -> None:
    task = detail.task
    typer.echo(f"{task.type} task {task.id}: {task.status}")
    if task.deployment_id is not None:
        typer.echo(f"  deployment:  {task.deployment_id}")
    typer.echo(f"  runs after:  {minute(task.execute_after)}")
    if task.result is not None:
        result = task.result.model_dump_json(by_alias=True, exclude_none=True)
        typer.echo(f"  result:      {result}")
    if task.error_message:
        typer.echo(f"  error:       {task.error_message}")
    typer.echo("")
    print_table(
        TIMELINE_COLUMNS,
        [(entry.event, minute(entry.at), entry.detail) for entry in detail.timeline],
    )
    if detail.logs:
        typer.echo("")
        typer.echo(f"latest {len(detail.logs)} log lines (all of them: `deployments logs ID`):")
        for line in detail.logs:
            typer.echo(f"{line.timestamp.isoformat(timespec='seconds')} {line.line}")


@tasks_app.command("cancel")
def cancel_task(
    task_id: uuid.UUID = typer.Argument(..., help="The pending agent task's id."),
    by: ActorOption = "",
) -> None:
    """Cancel a deploy or rollback task the agent has not taken (a deploy task's deployment is
    cancelled with it)."""
    task = run_with_runtime(
        lambda session, runtime: task_admin.cancel_task(
            session,
            clock=runtime.clock,
            settings=runtime.settings,
            task_id=task_id,
            admin_email=actor(by),
        )
    )
    typer.echo(f"cancelled {task.type} task {task.id}")
