"""Deliver a release that a gate held back once the gate clears.

Publishing sends nothing to an organization whose license has expired or which runs a version
below the release's ``minCurrentVersion``: it raises a ``LICENSE_EXPIRED`` or
``MIN_VERSION_BLOCKED`` escalation instead (:mod:`gcc.releases.fanout`). Beat runs
:func:`recheck_gates` every minute over the open escalations of those two types whose release
is still published and whose organization is still active:

- the organization already runs the release's version or a newer one: the escalation is
  resolved as no longer needed, nothing is sent;
- the gates pass now (the license was renewed, the organization upgraded in steps): the
  deployment target is created as the fan-out creates it, so the webhook goes out with its
  retries and the updates poll offers the release, and the escalation is resolved;
- the other gate holds now (the license was renewed but the version is too old, or the other
  way round): that gate's escalation is raised and this one resolved, pointing to it;
- otherwise the escalation stays open and is looked at again next time.

Escalations are claimed with ``FOR UPDATE SKIP LOCKED`` and their releases locked ``FOR
SHARE`` (a deprecation waits, or goes first and the release is skipped), and the targets are
inserted with ``ON CONFLICT DO NOTHING`` on ``uq_target_release_org``: two runs at once
create one target, and a repeated run finds nothing left to do.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import ArtifactType, EscalationType, RolloutPlan
from gcc.artifacts import service as artifact_service
from gcc.escalations import service as escalation_service
from gcc.organizations.repository import Candidate
from gcc.releases import held_back, repository, waves
from gcc.releases.fanout import (
    Hold,
    VersionCache,
    artifact_for,
    gate_hold,
    minimum_version,
    raise_hold,
)
from gcc.releases.held_back import HeldBack
from gcc.releases.models import Release, Rollout
from gcc.releases.service import DISPATCH_TASK
from servicekit.db import after_commit
from timekeeping import Clock

log = structlog.get_logger(__name__)

GATED = (EscalationType.LICENSE_EXPIRED, EscalationType.MIN_VERSION_BLOCKED)
"""The escalations of a release withheld by a gate."""
BATCH_SIZE = 500


@dataclass
class GateRecheck:
    """What one re-check did with the open escalations of withheld releases."""

    delivered: int = 0
    """Escalations resolved because their gate cleared and the release was sent."""
    not_needed: int = 0
    """Escalations resolved because the organization already runs the version or a newer one."""
    held_by_other_gate: int = 0
    """Escalations resolved because their gate cleared while the other gate now holds."""
    still_held: int = 0
    """Escalations left open: the gate still holds."""


def _gate_cleared(escalation_type: str, release: Release, organization: Candidate) -> str:
    if escalation_type == EscalationType.LICENSE_EXPIRED:
        expires_at = organization.license_expires_at
        if expires_at is None:
            return "gate cleared: the license no longer expires"
        return f"gate cleared: license renewed until {expires_at.isoformat()}"
    current = organization.current_version or "no recorded version"
    return (
        f"gate cleared: {organization.name} now runs {current} "
        f"(minimum {release.min_current_version})"
    )


@dataclass
class _Pass:
    """One run's decisions, written in bulk at the end of each batch."""

    clock: Clock
    now: datetime
    versions: VersionCache = field(default_factory=VersionCache)
    result: GateRecheck = field(default_factory=GateRecheck)
    resolutions: dict[uuid.UUID, str] = field(default_factory=dict)
    """Escalation id to resolution text."""
    targets: defaultdict[uuid.UUID, dict[uuid.UUID, str]] = field(
        default_factory=lambda: defaultdict(dict)
    )
    """Release id to the organizations to target, with their rings."""

    async def decide(
        self,
        session: AsyncSession,
        held: HeldBack,
        release: Release,
        available: set[ArtifactType],
    ) -> None:
        organization = held.organization
        current = self.versions.get(organization.current_version)
        version = self.versions.get(release.version)
        if current is not None and version is not None and current >= version:
            self.result.not_needed += 1
            self.resolutions[held.escalation_id] = (
                f"no longer needed: {organization.name} already runs {current}, not older "
                f"than release {release.version}; nothing sent"
            )
            return
        if artifact_for(organization) not in available:
            # The deployment type changed to one the release has no artifact for (or retention
            # removed it): the fan-out would not target it either; the release stays withheld.
            self.result.still_held += 1
            return
        hold = gate_hold(
            release,
            organization,
            minimum=minimum_version(release),
            versions=self.versions,
            now=self.now,
        )
        if hold is None:
            self.result.delivered += 1
            self.targets[release.id][organization.id] = organization.ring
            self.resolutions[held.escalation_id] = (
                f"{_gate_cleared(held.escalation_type, release, organization)}, "
                f"release {release.version} delivered"
            )
            log.info(
                "release.gate_recheck.delivered",
                organization=organization.name,
                version=release.version,
                gate=held.escalation_type,
            )
            return
        if hold.escalation_type == held.escalation_type or not await self._hand_over(
            session, held, release, hold
        ):
            self.result.still_held += 1

    async def _hand_over(
        self, session: AsyncSession, held: HeldBack, release: Release, hold: Hold
    ) -> bool:
        """Raise the other gate's escalation and resolve this one; False (nothing done) when
        that escalation exists already, so this one stays open until the release can go."""
        organization = held.organization
        if not await raise_hold(
            session, clock=self.clock, release=release, candidate=organization, hold=hold
        ):
            return False
        self.result.held_by_other_gate += 1
        self.resolutions[held.escalation_id] = (
            f"{_gate_cleared(held.escalation_type, release, organization)}, but release "
            f"{release.version} is still withheld ({hold.escalation_type} raised): {hold.reason}"
        )
        return True

    async def write(self, session: AsyncSession) -> None:
        for release_id, rings in self.targets.items():
            organization_ids = sorted(rings)
            # In a phased rollout the organization joins its own wave: notified now when that
            # wave is open, with its wave otherwise.
            rollout = await session.get(Rollout, release_id)
            plan = None if rollout is None else RolloutPlan.model_validate({"waves": rollout.plan})
            await repository.insert_targets(
                session,
                release_id=release_id,
                organization_ids=organization_ids,
                waves=waves.assign_waves(
                    plan, release_id=release_id, organization_ids=organization_ids, rings=rings
                ),
                open_wave=0 if rollout is None else rollout.current_wave,
                now=self.now,
            )
        await escalation_service.resolve_many(session, self.resolutions, now=self.now)
        self.resolutions.clear()
        self.targets.clear()


async def recheck_gates(
    session: AsyncSession,
    *,
    clock: Clock,
    send_task: Callable[..., Any],
    batch_size: int = BATCH_SIZE,
) -> GateRecheck:
    """Deliver the withheld releases whose gate cleared and resolve their escalations.

    See the module docstring for what happens to each escalation. Each batch of escalations
    costs a few statements whatever its size. Webhook delivery is enqueued once the
    transaction commits, when a target was created.
    """
    run = _Pass(clock=clock, now=clock.now())
    after: uuid.UUID | None = None
    while True:
        batch = await held_back.claim_held_back(
            session, types=[str(gate) for gate in GATED], after=after, limit=batch_size
        )
        if not batch:
            break
        after = batch[-1].escalation_id
        releases = await held_back.share_published(session, {held.release_id for held in batch})
        available = await artifact_service.available_types(
            session, [release.version for release in releases.values()]
        )
        for held in batch:
            release = releases.get(held.release_id)
            if release is None:
                continue  # deprecated since the batch was claimed
            await run.decide(session, held, release, available.get(release.version, set()))
        await run.write(session)
        if len(batch) < batch_size:
            break
    result = run.result
    if result.delivered:
        after_commit(session, lambda: send_task(DISPATCH_TASK))
    if result.delivered or result.not_needed or result.held_by_other_gate:
        log.info(
            "release.gate_recheck.completed",
            delivered=result.delivered,
            not_needed=result.not_needed,
            held_by_other_gate=result.held_by_other_gate,
            still_held=result.still_held,
        )
    return result
