"""Operator commands of phased rollouts: ``gcc release rollout|pause|resume|advance|withdraw``,
on the same services as the operator API (registered on ``gcc release`` in :mod:`gcc.cli`)."""

from __future__ import annotations

import typer
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import RolloutView
from gcc.audit.service import Actor
from gcc.command_runtime import run_with_runtime
from gcc.rollouts import actions, withdraw
from gcc.runtime import Runtime
from servicekit.output import Column, minute, print_json, print_table

VERSION = typer.Argument(..., help="The release's version.")
REASON = typer.Option(None, help="Why (kept in the audit trail).")

WAVE_COLUMNS = [
    Column("WAVE", 4),
    Column("NAMES", 16),
    Column("NOTIFIED (UTC)", 16),
    Column("ORGS", 6),
    Column("PENDING", 7),
    Column("UNKNOWN", 7),
    Column("DEPLOYED", 8),
    Column("FAILED", 6),
    Column("REGRESSED", 9),
]


def print_rollout(view: RolloutView) -> None:
    """The rollout as a table of waves, then its halts."""
    typer.echo(f"rollout of {view.version}: {view.state}, wave {view.current_wave} notified last")
    print_table(
        WAVE_COLUMNS,
        [
            (
                wave.index,
                "+".join([*wave.rings, *([f"{wave.percent}%"] if wave.percent else [])]),
                minute(wave.notified_at) if wave.notified_at else "waiting",
                wave.counts.targets,
                wave.counts.pending,
                wave.counts.unknown,
                wave.counts.deployed,
                wave.counts.failed,
                wave.counts.regressed,
            )
            for wave in view.waves
        ],
    )
    for halt in view.halts:
        resumed = f", resumed {minute(halt.resumed_at)}" if halt.resumed_at else ""
        typer.echo(f"halted {minute(halt.halted_at)} ({halt.gate}): {halt.reason}{resumed}")


def rollout(
    version: str = VERSION,
    json_output: bool = typer.Option(False, "--json", help="JSON, as the API answers."),
) -> None:
    """Show where a release's rollout stands: waves, counts, gates and halts."""

    async def work(session: AsyncSession, _: Runtime) -> RolloutView:
        return await actions.rollout_state(session, version_text=version)

    view = run_with_runtime(work)
    if json_output:
        print_json(view)
    else:
        print_rollout(view)


def pause(version: str = VERSION, reason: str | None = REASON) -> None:
    """Pause a running rollout: no wave opens until it is resumed or advanced."""

    async def work(session: AsyncSession, runtime: Runtime) -> RolloutView:
        return await actions.pause_rollout(
            session,
            clock=runtime.clock,
            actor=Actor.command_line(),
            version_text=version,
            reason=reason,
        )

    print_rollout(run_with_runtime(work))


def resume(version: str = VERSION, reason: str | None = REASON) -> None:
    """Resume a paused rollout, or a halted one by notifying its next wave."""

    async def work(session: AsyncSession, runtime: Runtime) -> RolloutView:
        return await actions.resume_rollout(
            session,
            clock=runtime.clock,
            actor=Actor.command_line(),
            version_text=version,
            reason=reason,
            send_task=runtime.send_task,
        )

    print_rollout(run_with_runtime(work))


def advance(version: str = VERSION, reason: str | None = REASON) -> None:
    """Notify the next wave now, whatever the gates and the bake time say."""

    async def work(session: AsyncSession, runtime: Runtime) -> RolloutView:
        return await actions.advance_rollout(
            session,
            clock=runtime.clock,
            actor=Actor.command_line(),
            version_text=version,
            reason=reason,
            send_task=runtime.send_task,
        )

    print_rollout(run_with_runtime(work))


def withdraw_command(
    version: str = VERSION,
    reason: str | None = typer.Option(None, help="Why: the customers' admins are told."),
) -> None:
    """Withdraw a release: deprecated for those not yet notified, a signed release.withdrawn
    webhook to those notified."""

    async def work(session: AsyncSession, runtime: Runtime) -> str:
        summary = await withdraw.withdraw_release(
            session,
            clock=runtime.clock,
            actor=Actor.command_line(),
            version_text=version,
            reason=reason,
            send_task=runtime.send_task,
        )
        return str(summary.version)

    typer.echo(f"withdrew {run_with_runtime(work)}")
