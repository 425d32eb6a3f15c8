"""Phased rollouts: beat evaluates every running rollout, halts it when a gate trips and
notifies the next wave when the current one may advance.

A release published with a plan has all its deployment targets from the start; those of later
waves wait, not due (``next_attempt_at`` null, ``wave_notified_at`` null), so neither the
delivery pump nor the updates poll sees them. Opening a wave makes its targets due in one
statement and nudges the pump; nothing else in delivery knows about waves.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import EscalationType, RolloutPlan, RolloutState
from gcc.escalations.service import raise_escalation
from gcc.releases.models import Release, Rollout
from gcc.releases.service import DISPATCH_TASK
from gcc.rollouts import repository
from gcc.rollouts.gates import Decision, Verdict, judge
from gcc.rollouts.repository import WaveTally
from servicekit.db import SessionFactory, after_commit, session_scope
from timekeeping import Clock

log = structlog.get_logger(__name__)

OPEN_BATCH = 10_000
"""Targets made due per transaction when a wave opens."""


@dataclass
class Evaluation:
    """What one evaluation of the running rollouts did."""

    evaluated: int = 0
    advanced: int = 0
    halted: int = 0
    completed: int = 0
    opened: int = 0
    """Targets made due because their wave opened."""


def plan_of(rollout: Rollout) -> RolloutPlan:
    """The rollout's plan as the contract."""
    return RolloutPlan.model_validate({"waves": rollout.plan})


def notified_at(rollout: Rollout, wave: int) -> datetime | None:
    """When the wave was notified; None while it waits."""
    times = rollout.notified_at
    return datetime.fromisoformat(times[wave]) if wave < len(times) else None


async def open_next_wave(
    session: AsyncSession, *, rollout: Rollout, release: Release, now: datetime
) -> None:
    """Open the wave after the current one: the rollout moves on now; its targets are made due
    by :func:`open_waiting_targets` (beat's evaluation right after, an operator's action at
    once)."""
    wave = rollout.current_wave + 1
    rollout.current_wave = wave
    rollout.notified_at = [*rollout.notified_at, now.isoformat()]
    rollout.updated_at = now
    session.add(rollout)
    await session.flush()
    log.info("rollout.wave.opened", version=release.version, wave=wave)


async def open_waiting_targets(
    session: AsyncSession,
    *,
    clock: Clock,
    send_task: Callable[..., Any],
    limit: int | None = OPEN_BATCH,
    release_id: uuid.UUID | None = None,
) -> int:
    """Make due the targets of opened waves (up to ``limit``, all without), and have the pump
    deliver them once the transaction commits; how many."""
    opened = await repository.open_waiting_targets(
        session,
        now=clock.now(),
        limit=limit if limit is not None else 2**31 - 1,
        release_id=release_id,
    )
    if opened:
        after_commit(session, lambda: send_task(DISPATCH_TASK))
    return opened


async def halt(
    session: AsyncSession, *, clock: Clock, rollout: Rollout, release: Release, verdict: Verdict
) -> None:
    """Stop the rollout and raise ``ROLLOUT_HALTED`` once for this halt, with its numbers.

    The escalation is filed under an organization of the wave that failed or regressed, and
    keyed by the release and the halt's number, so each halt raises it exactly once.
    """
    now = clock.now()
    wave = rollout.current_wave
    record = {
        "wave": wave,
        "gate": verdict.gate,
        "reason": verdict.reason,
        "haltedAt": now.isoformat(),
        "resumedAt": None,
    }
    rollout.halts = [*rollout.halts, record]
    rollout.state = str(RolloutState.HALTED)
    rollout.updated_at = now
    session.add(rollout)
    culprit = await repository.first_culprit(session, release_id=release.id, wave=wave)
    if culprit is not None:
        await raise_escalation(
            session,
            clock=clock,
            escalation_type=EscalationType.ROLLOUT_HALTED,
            organization_id=culprit,
            release_id=release.id,
            release_version=release.version,
            reason=f"The rollout of {release.version} halted: {verdict.reason}.",
            details={"version": release.version, "wave": wave, **(verdict.numbers or {})},
            dedupe=f"{EscalationType.ROLLOUT_HALTED}:{release.id}:{len(rollout.halts)}",
        )
    log.warning(
        "rollout.halted",
        version=release.version,
        wave=wave,
        gate=verdict.gate,
        reason=verdict.reason,
    )


async def _step(
    session: AsyncSession,
    *,
    clock: Clock,
    rollout: Rollout,
    release: Release,
    send_task: Callable[..., Any],
    result: Evaluation,
) -> None:
    """Judge the current wave, then the next ones as long as each may advance at once."""
    plan = plan_of(rollout)
    tallies = await repository.wave_tallies(session, release.id)
    now = clock.now()
    while True:
        index = rollout.current_wave
        verdict = judge(
            plan.waves[index],
            tallies.get(index, WaveTally()),
            index=index,
            notified_at=notified_at(rollout, index) or now,
            now=now,
        )
        if verdict.decision is Decision.HALT:
            await halt(session, clock=clock, rollout=rollout, release=release, verdict=verdict)
            result.halted += 1
            return
        if verdict.decision is Decision.WAIT:
            return
        if index + 1 >= len(plan.waves):
            rollout.state = str(RolloutState.COMPLETED)
            rollout.updated_at = now
            session.add(rollout)
            result.completed += 1
            log.info("rollout.completed", version=release.version)
            return
        await open_next_wave(session, rollout=rollout, release=release, now=now)
        result.advanced += 1


async def evaluate_rollouts(
    session: AsyncSession, *, clock: Clock, send_task: Callable[..., Any]
) -> Evaluation:
    """Evaluate every running rollout once (beat, every ``GCC_ROLLOUT_INTERVAL_SECONDS``).

    Each rollout is locked (``FOR UPDATE SKIP LOCKED``) and costs one aggregate over its
    release's targets plus, when a wave opens, one update of that wave's targets.
    """
    result = Evaluation()
    for rollout, release in await repository.claim_running(session):
        result.evaluated += 1
        await _step(
            session,
            clock=clock,
            rollout=rollout,
            release=release,
            send_task=send_task,
            result=result,
        )
    if result.advanced or result.halted or result.completed:
        log.info(
            "rollout.evaluate.completed",
            evaluated=result.evaluated,
            advanced=result.advanced,
            halted=result.halted,
            completed=result.completed,
        )
    return result


async def run_evaluation(
    session_factory: SessionFactory, *, clock: Clock, send_task: Callable[..., Any]
) -> Evaluation:
    """What beat's ``rollouts.evaluate`` does: evaluate every running rollout (one
    transaction), then make due the targets of the waves opened, a batch per transaction."""
    async with session_scope(session_factory) as session:
        result = await evaluate_rollouts(session, clock=clock, send_task=send_task)
    while True:
        async with session_scope(session_factory) as session:
            opened = await open_waiting_targets(session, clock=clock, send_task=send_task)
        result.opened += opened
        if opened < OPEN_BATCH:
            return result


async def rollout_of(session: AsyncSession, release_id: uuid.UUID) -> Rollout | None:
    """A release's rollout, locked; None for a release published without a plan."""
    return await repository.get_rollout(session, release_id)
