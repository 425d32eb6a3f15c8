"""Which rollout wave each organization of a release belongs to.

A wave takes, in plan order, the organizations of the rings it names that no earlier wave took,
then, when it names a percentage, those left whose share is below it. The share is a hash of
the organization's and the release's ids mapped to [0, 100): the same organization and release
always land in the same wave, so publishing again, re-running an evaluation or adding an
organization later never reshuffles anyone; and a new release draws a fresh sample, so the same
organizations are not always the first of the general ring. Organizations no wave takes (a
plan without a final ``100%``, or a ring no wave names) go with the last wave, so a plan never
leaves an organization out.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import RolloutPlan, RolloutState
from gcc.organizations.repository import Candidate
from gcc.releases import repository
from gcc.releases.fanout import FanOut
from gcc.releases.models import Release, Rollout
from servicekit.errors import InvalidInput

_SHARE_SCALE = 2**64


def share_of(organization_id: uuid.UUID, release_id: uuid.UUID) -> float:
    """The organization's deterministic place in [0, 100) for this release."""
    digest = hashlib.sha256(organization_id.bytes + release_id.bytes).digest()
    return int.from_bytes(digest[:8], "big") * 100 / _SHARE_SCALE


def wave_of(plan: RolloutPlan, *, ring: str, share: float) -> int:
    """The wave of an organization of ``ring`` whose share is ``share``."""
    for index, wave in enumerate(plan.waves):
        if ring in wave.rings or (wave.percent is not None and share < wave.percent):
            return index
    return len(plan.waves) - 1


def assign_waves(
    plan: RolloutPlan | None,
    *,
    release_id: uuid.UUID,
    organization_ids: Sequence[uuid.UUID],
    rings: dict[uuid.UUID, str],
) -> list[int]:
    """The wave of each of ``organization_ids`` (all 0 without a plan)."""
    if plan is None:
        return [0] * len(organization_ids)
    return [
        wave_of(
            plan, ring=rings.get(organization_id, ""), share=share_of(organization_id, release_id)
        )
        for organization_id in organization_ids
    ]


def check_rings(plan: RolloutPlan, known: Sequence[str]) -> None:
    """422 naming the wave when a plan names a ring that is not configured."""
    for index, wave in enumerate(plan.waves):
        unknown = sorted(set(wave.rings) - set(known))
        if unknown:
            raise InvalidInput(
                f"rollout.waves.{index}.rings: {', '.join(unknown)} is no ring; the rings are "
                f"{', '.join(known)}",
                field=f"rollout.waves.{index}.rings",
            )


def rings_of(candidates: Sequence[Candidate]) -> dict[uuid.UUID, str]:
    """Each candidate's ring by id."""
    return {candidate.id: candidate.ring for candidate in candidates}


async def create_targets(
    session: AsyncSession,
    *,
    release: Release,
    fan_out: FanOut,
    plan: RolloutPlan | None,
    now: datetime,
) -> None:
    """Insert the release's targets, each in its wave, and start its rollout when it has a
    plan: the first wave is notified now, the others wait."""
    await repository.insert_targets(
        session,
        release_id=release.id,
        organization_ids=fan_out.organization_ids,
        waves=assign_waves(
            plan,
            release_id=release.id,
            organization_ids=fan_out.organization_ids,
            rings=fan_out.rings,
        ),
        now=now,
    )
    if plan is not None:
        start_rollout(session, release=release, plan=plan, now=now)


def start_rollout(
    session: AsyncSession, *, release: Release, plan: RolloutPlan, now: datetime
) -> Rollout:
    """The rollout of a release published with ``plan``: running, its first wave notified."""
    rollout = Rollout(
        release_id=release.id,
        plan=[wave.model_dump(mode="json") for wave in plan.waves],
        state=str(RolloutState.RUNNING),
        current_wave=0,
        notified_at=[now.isoformat()],
        halts=[],
        created_at=now,
        updated_at=now,
    )
    session.add(rollout)
    return rollout
