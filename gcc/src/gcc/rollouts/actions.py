"""What operators do with a rollout: look at it, pause, resume, advance by hand.

Each action is audited like every operator change. Resuming a halted rollout is a judgement
that the halted wave is good enough (a fix shipped elsewhere, a failure explained): the next
wave is notified at once and the gates watch it from then on, so the numbers that halted the
rollout do not halt it again. Resuming a paused rollout only lets beat evaluate it again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import AuditAction, RolloutState, RolloutView
from gcc.audit import service as audit_service
from gcc.audit.service import Actor
from gcc.releases import service as release_service
from gcc.releases.models import Release, Rollout
from gcc.rollouts import repository
from gcc.rollouts.service import open_next_wave, open_waiting_targets, plan_of
from gcc.rollouts.views import rollout_view
from servicekit.errors import Conflict, NotFound
from timekeeping import Clock


async def locked_rollout(
    session: AsyncSession, *, version_text: str, lock: bool = True
) -> tuple[Release, Rollout]:
    """The release of that version and its rollout, locked unless ``lock`` is False (a read:
    it must not wait behind beat's evaluation, which holds the lock); 404 when it has none."""
    release = await release_service.get_release(session, version_text=version_text, for_update=lock)
    rollout = await repository.get_rollout(session, release.id)
    if rollout is None:
        raise NotFound(
            f"Release {release.version} has no rollout: it was published without a plan "
            "(or is a draft).",
            field="version",
        )
    return release, rollout


async def view_of(session: AsyncSession, release: Release, rollout: Rollout) -> RolloutView:
    """The rollout's view with fresh counts."""
    tallies = await repository.wave_tallies(session, release.id)
    return rollout_view(release, rollout, tallies)


async def rollout_state(session: AsyncSession, *, version_text: str) -> RolloutView:
    """Where the release's rollout stands: waves, counts, gates, halts."""
    release, rollout = await locked_rollout(session, version_text=version_text, lock=False)
    return await view_of(session, release, rollout)


def _refuse(release: Release, rollout: Rollout, action: str) -> Conflict:
    return Conflict(
        f"The rollout of {release.version} is {rollout.state}; it cannot be {action}.",
        field="version",
    )


def _close_open_halt(rollout: Rollout, now_text: str) -> None:
    if rollout.halts and rollout.halts[-1].get("resumedAt") is None:
        last = {**rollout.halts[-1], "resumedAt": now_text}
        rollout.halts = [*rollout.halts[:-1], last]


async def _audited(
    session: AsyncSession,
    *,
    clock: Clock,
    actor: Actor,
    action: AuditAction,
    release: Release,
    rollout: Rollout,
    reason: str | None,
) -> RolloutView:
    rollout.updated_at = clock.now()
    session.add(rollout)
    await session.flush()
    await audit_service.record(
        session,
        clock=clock,
        actor=actor,
        action=action,
        release_version=release.version,
        details={"state": rollout.state, "wave": rollout.current_wave, "reason": reason},
    )
    return await view_of(session, release, rollout)


async def pause_rollout(
    session: AsyncSession, *, clock: Clock, actor: Actor, version_text: str, reason: str | None
) -> RolloutView:
    """Stop evaluating the rollout: no wave opens until it is resumed or advanced."""
    release, rollout = await locked_rollout(session, version_text=version_text)
    if rollout.state != RolloutState.RUNNING:
        raise _refuse(release, rollout, "paused")
    rollout.state = str(RolloutState.PAUSED)
    return await _audited(
        session,
        clock=clock,
        actor=actor,
        action=AuditAction.ROLLOUT_PAUSE,
        release=release,
        rollout=rollout,
        reason=reason,
    )


async def _advance(
    session: AsyncSession,
    *,
    clock: Clock,
    release: Release,
    rollout: Rollout,
    send_task: Callable[..., Any],
) -> None:
    now = clock.now()
    _close_open_halt(rollout, now.isoformat())
    if rollout.current_wave + 1 >= len(plan_of(rollout).waves):
        rollout.state = str(RolloutState.COMPLETED)
        return
    rollout.state = str(RolloutState.RUNNING)
    await open_next_wave(session, rollout=rollout, release=release, now=now)
    # an operator waits for the whole wave: it is opened in this transaction
    await open_waiting_targets(
        session, clock=clock, send_task=send_task, limit=None, release_id=release.id
    )


async def resume_rollout(
    session: AsyncSession,
    *,
    clock: Clock,
    actor: Actor,
    version_text: str,
    reason: str | None,
    send_task: Callable[..., Any],
) -> RolloutView:
    """Resume a paused rollout; resume a halted one by notifying its next wave."""
    release, rollout = await locked_rollout(session, version_text=version_text)
    if rollout.state == RolloutState.PAUSED:
        rollout.state = str(RolloutState.RUNNING)
    elif rollout.state == RolloutState.HALTED:
        await _advance(session, clock=clock, release=release, rollout=rollout, send_task=send_task)
    else:
        raise _refuse(release, rollout, "resumed")
    return await _audited(
        session,
        clock=clock,
        actor=actor,
        action=AuditAction.ROLLOUT_RESUME,
        release=release,
        rollout=rollout,
        reason=reason,
    )


async def advance_rollout(
    session: AsyncSession,
    *,
    clock: Clock,
    actor: Actor,
    version_text: str,
    reason: str | None,
    send_task: Callable[..., Any],
) -> RolloutView:
    """Notify the next wave now, whatever the gates and the bake time say."""
    release, rollout = await locked_rollout(session, version_text=version_text)
    if rollout.state not in (RolloutState.RUNNING, RolloutState.PAUSED, RolloutState.HALTED):
        raise _refuse(release, rollout, "advanced")
    if rollout.current_wave + 1 >= len(plan_of(rollout).waves):
        raise Conflict(
            f"The rollout of {release.version} has notified its last wave already.",
            field="version",
        )
    await _advance(session, clock=clock, release=release, rollout=rollout, send_task=send_task)
    return await _audited(
        session,
        clock=clock,
        actor=actor,
        action=AuditAction.ROLLOUT_ADVANCE,
        release=release,
        rollout=rollout,
        reason=reason,
    )
