"""Admin commands: ``customer-backend config`` and its ``list|get|set|unset`` of non-essential
variables, ``essential`` and ``history`` of the essential configuration, and ``essential-set``,
which saves a revision as the backend's command line (the vendor's support team on the host).

``customer-backend config`` alone prints the effective settings, as every tier's does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import (
    EssentialConfigRevisionList,
    NonEssentialEnvCategory,
    NonEssentialEnvCreate,
    NonEssentialEnvList,
    NonEssentialEnvUpdate,
)
from customer_backend.command_runtime import ActorOption, actor, run_in_database, run_with_runtime
from customer_backend.config import service, views
from customer_backend.config.models import NonEssentialEnv
from customer_backend.runtime import Runtime
from customer_backend.settings import get_settings
from servicekit.commands import validated
from servicekit.failures import FailureRenderingGroup
from servicekit.output import Column, minute, print_json, print_table
from timekeeping import SystemClock

config_app = typer.Typer(
    cls=FailureRenderingGroup,
    help="Settings: the effective ones (alone), non-essential variables, essential revisions.",
    invoke_without_command=True,
)

ENV_COLUMNS = [
    Column("KEY", 30),
    Column("VALUE", 30),
    Column("CATEGORY", 8),
    Column("UPDATED (UTC)", 16),
    Column("BY", 30),
]

REVISION_COLUMNS = [
    Column("REV", 4),
    Column("SAVED (UTC)", 16),
    Column("BY", 24),
    Column("ROLE", 7),
    Column("NOW", 3),
    Column("KEYS ADDED / CHANGED / REMOVED", 40),
]


@config_app.callback()
def effective_settings(ctx: typer.Context) -> None:
    """Alone: print the effective settings (secrets masked). With a sub-command: that."""
    if ctx.invoked_subcommand is None:
        typer.echo(get_settings().model_dump_json(indent=2))


@config_app.command("list")
def list_(
    json_output: bool = typer.Option(False, "--json", help="JSON, as GET /api/admin/config."),
) -> None:
    """Every non-essential variable, by key."""
    envs = run_in_database(service.list_envs)
    if json_output:
        print_json(NonEssentialEnvList(envs=[views.env_view(env) for env in envs]))
        return
    if not envs:
        typer.echo("no non-essential variables")
        return
    print_table(
        ENV_COLUMNS,
        [
            (env.key, env.value, env.category, minute(env.updated_at), env.updated_by)
            for env in envs
        ],
    )


@config_app.command("get")
def get(
    key: str = typer.Argument(..., help="The variable's name."),
    json_output: bool = typer.Option(False, "--json", help="The variable as the API shows it."),
) -> None:
    """Print a non-essential variable's value (exit 1 when there is none)."""
    env = run_in_database(lambda session: service.get_env(session, key=key))
    if json_output:
        print_json(views.env_view(env))
        return
    typer.echo(env.value)


@config_app.command("set")
def set_(
    key: str = typer.Argument(..., help="The variable's name."),
    value: str = typer.Argument(..., help="Its value."),
    description: str | None = typer.Option(None, help="What the variable does."),
    category: NonEssentialEnvCategory | None = typer.Option(None, help="Its grouping."),
    by: ActorOption = "",
) -> None:
    """Add a non-essential variable, or change its value (and description or category when
    given); the application reads it at run time, the next deployment gets it too."""
    fields: dict[str, Any] = {"value": value}
    if description is not None:
        fields["description"] = description
    if category is not None:
        fields["category"] = category
    creation = validated(NonEssentialEnvCreate, {"key": key, **fields})
    update = validated(NonEssentialEnvUpdate, fields)
    who = actor(by)

    async def work(session: AsyncSession) -> tuple[NonEssentialEnv, bool]:
        clock = SystemClock()
        existing = {env.key for env in await service.list_envs(session)}
        if creation.key in existing:
            changed = await service.update_env(
                session, clock=clock, key=creation.key, update=update, admin_email=who
            )
            return changed, False
        added = await service.create_env(session, clock=clock, request=creation, admin_email=who)
        return added, True

    env, added = run_in_database(work)
    typer.echo(f"{'added' if added else 'changed'} {env.key}")


@config_app.command("unset")
def unset(
    key: str = typer.Argument(..., help="The variable's name."), by: ActorOption = ""
) -> None:
    """Remove a non-essential variable."""
    run_in_database(
        lambda session: service.delete_env(
            session, clock=SystemClock(), key=key, admin_email=actor(by)
        )
    )
    typer.echo(f"removed {key}")


@config_app.command("essential")
def essential(
    json_output: bool = typer.Option(
        False, "--json", help="JSON, as GET /api/admin/config/essential."
    ),
) -> None:
    """The essential configuration the next deployment uses: its revision and keys, never a
    value."""

    async def work(session: AsyncSession, runtime: Runtime) -> service.EssentialConfigSummary:
        return await service.essential_config_summary(
            session,
            object_store=runtime.object_store,
            deployment_type=runtime.settings.deployment_type,
        )

    view = views.essential_view(run_with_runtime(work))
    if json_output:
        print_json(view)
        return
    if view.revision is None:
        typer.echo(f"no essential configuration ({view.kind}) saved yet")
        return
    typer.echo(
        f"revision {view.revision} ({view.kind}), saved {minute(view.created_at)} by "
        f"{view.created_by}"
    )
    typer.echo(f"keys: {', '.join(view.keys) or 'none'}")


@config_app.command("history")
def history(
    json_output: bool = typer.Option(
        False, "--json", help="JSON, as GET /api/admin/config/essential/revisions."
    ),
) -> None:
    """Every revision of the essential configuration, newest first: who saved it, when, with
    which role, and which keys it added, changed and removed."""
    deployment_type = get_settings().deployment_type
    revisions = run_in_database(
        lambda session: service.list_essential_configs(session, deployment_type=deployment_type)
    )
    listing = EssentialConfigRevisionList(revisions=[views.revision_view(v) for v in revisions])
    if json_output:
        print_json(listing)
        return
    if not listing.revisions:
        typer.echo("no revisions")
        return
    print_table(
        REVISION_COLUMNS,
        [
            (
                revision.revision,
                minute(revision.created_at),
                revision.created_by,
                revision.author_role,
                "yes" if revision.is_current else "",
                _key_changes(revision.added_keys, revision.changed_keys, revision.removed_keys),
            )
            for revision in listing.revisions
        ],
    )


def _key_changes(
    added: list[str] | None, changed: list[str] | None, removed: list[str] | None
) -> str:
    if added is None and changed is None and removed is None:
        return "not recorded"
    parts = [
        f"{sign}{key}"
        for sign, keys in (("+", added), ("~", changed), ("-", removed))
        for key in keys or []
    ]
    return " ".join(parts) or "none"


@config_app.command("essential-set")
def essential_set(
    file: Path = typer.Argument(
        ...,
        exists=True,
        dir_okay=False,
        readable=True,
        help="values.yaml (kubernetes, gitops) or .env (docker) to save.",
    ),
    by: ActorOption = "",
) -> None:
    """Save FILE as the next revision of the essential configuration, which the next deployment
    uses (recorded with the role `cli`: the vendor's support team on this host)."""
    content = file.read_text(encoding="utf-8")

    async def work(session: AsyncSession, runtime: Runtime) -> service.EssentialConfigSummary:
        return await service.save_essential_config(
            session,
            clock=runtime.clock,
            object_store=runtime.object_store,
            deployment_type=runtime.settings.deployment_type,
            content=content,
            admin_email=actor(by),
            role=service.CLI_ROLE,
        )

    view = views.essential_view(run_with_runtime(work))
    typer.echo(f"essential configuration at revision {view.revision}: {len(view.keys)} keys")
