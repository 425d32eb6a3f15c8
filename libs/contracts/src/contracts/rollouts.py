"""Phased rollouts at GCC: the plan given at publish, the rollout's state, the operator's
actions, and the `release.withdrawn` message a withdrawal sends to notified organizations.

A plan is a list of waves. Each wave names rings (organizations' `ring`) and/or a percentage:
the organizations of those rings not taken by an earlier wave, plus those of the rest whose
deterministic share (a hash of organization and release, 0 to 100) is below the percentage.
The next wave is notified when the current one's advance condition holds and no gate tripped.
"""

from __future__ import annotations

import itertools
from enum import StrEnum
from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field, StringConstraints, model_validator

from contracts.base import ContractModel
from contracts.primitives import Timestamp
from contracts.versions import Version

__all__ = [
    "MAX_RING_LENGTH",
    "MAX_WAVES",
    "RELEASE_WITHDRAWN",
    "RING_PATTERN",
    "AdvanceWhen",
    "ReleasePublishRequest",
    "ReleaseWithdrawnWebhook",
    "RingName",
    "RolloutActionRequest",
    "RolloutHaltView",
    "RolloutPlan",
    "RolloutState",
    "RolloutView",
    "RolloutWave",
    "WaveCounts",
    "WaveGates",
    "WaveView",
]

MAX_RING_LENGTH = 40
"""The longest ring name (the organization's `ring` column)."""
RING_PATTERN = r"^[a-z][a-z0-9-]*$"
"""A ring name: lowercase letters, digits and hyphens, starting with a letter."""
MAX_WAVES = 20
"""The most waves a plan may have."""
RELEASE_WITHDRAWN: Literal["release.withdrawn"] = "release.withdrawn"
"""The `eventType` of :class:`ReleaseWithdrawnWebhook`."""

RingName = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_RING_LENGTH, pattern=RING_PATTERN)
]
"""The name of a ring, such as `canary`."""

Share = Annotated[float, Field(ge=0.0, le=1.0)]
"""A share between 0 and 1."""


class AdvanceWhen(StrEnum):
    """What lets a wave's successor be notified (besides no tripped gate)."""

    BAKE = "bake"
    """The bake time has passed since the wave was notified."""
    SUCCESS = "success"
    """At least the success threshold of the wave reported the release deployed."""
    EITHER = "either"
    """Whichever of the two comes first."""


class RolloutWave(ContractModel):
    """One wave of a plan."""

    rings: list[RingName] = Field(default_factory=list, max_length=20)
    """Rings whose organizations (not taken by an earlier wave) belong to this wave."""
    percent: int | None = Field(default=None, ge=1, le=100)
    """Also the organizations left whose share (0-100, a hash of organization and release)
    is below this; percentages are cumulative shares of the fleet, so `25` then `100` takes
    a quarter, then the rest."""
    bake_minutes: int = Field(default=60, ge=0, le=60 * 24 * 30)
    """Minutes after the wave's notification during which its health is watched; with
    `advanceWhen` `bake` or `either`, the next wave waits for them."""
    success_threshold: Share = 1.0
    """Share of the wave that must report the release deployed (`advanceWhen` `success` or
    `either`)."""
    failure_threshold: Share = 0.0
    """The rollout halts when the share of the wave's finished deployments that failed or
    were rolled back passes this."""
    health_threshold: Share = 0.0
    """The rollout halts when the share of the wave's deployed organizations that turned
    degraded, offline or critical within the bake time (having been healthy before) passes
    this."""
    advance_when: AdvanceWhen = AdvanceWhen.BAKE
    """What lets the next wave be notified."""

    @model_validator(mode="after")
    def _names_someone(self) -> RolloutWave:
        if not self.rings and self.percent is None:
            raise ValueError("a wave names rings, a percentage, or both")
        if len(set(self.rings)) != len(self.rings):
            raise ValueError("a wave names each ring once")
        return self


class RolloutPlan(ContractModel):
    """The waves of a release's rollout, in order."""

    waves: list[RolloutWave] = Field(min_length=1, max_length=MAX_WAVES)
    """The waves; organizations no wave takes go with the last one."""

    @model_validator(mode="after")
    def _percentages_grow(self) -> RolloutPlan:
        shares = [wave.percent for wave in self.waves if wave.percent is not None]
        if any(later <= earlier for earlier, later in itertools.pairwise(shares)):
            raise ValueError("the percentages of the waves must grow from wave to wave")
        return self


class ReleasePublishRequest(ContractModel):
    """Optional body of `POST /api/internal/releases/{version}/publish`."""

    rollout: RolloutPlan | None = None
    """The rollout plan; none: every target is notified at once, in one wave."""


class RolloutState(StrEnum):
    """Where a rollout stands."""

    RUNNING = "running"
    PAUSED = "paused"
    HALTED = "halted"
    COMPLETED = "completed"
    WITHDRAWN = "withdrawn"


class WaveCounts(ContractModel):
    """How the organizations of one wave stand."""

    targets: int = 0
    """Organizations in the wave."""
    pending: int = 0
    """Notified (or due), reachable, nothing deployed yet: never counted as failed."""
    unknown: int = 0
    """Nothing deployed yet and offline, critical or never seen."""
    in_progress: int = 0
    """Scheduled or deploying."""
    deployed: int = 0
    """Reported the release deployed."""
    failed: int = 0
    """Reported a failed or rolled-back deployment."""
    regressed: int = 0
    """Deployed, healthy before, degraded, offline or critical since, within the bake time."""


class WaveGates(ContractModel):
    """A wave's gate values beside their thresholds."""

    success_rate: float = 0.0
    """`deployed / targets`."""
    success_threshold: float
    """The plan's success threshold."""
    failure_rate: float = 0.0
    """`failed / (deployed + failed)`."""
    failure_threshold: float
    """The plan's failure threshold."""
    health_rate: float = 0.0
    """`regressed / deployed` (among those healthy before)."""
    health_threshold: float
    """The plan's health threshold."""


class WaveView(ContractModel):
    """One wave of a rollout."""

    index: int
    """0 for the first wave."""
    rings: list[str]
    """The rings the wave names."""
    percent: int | None = None
    """The cumulative share the wave names."""
    bake_minutes: int
    """The wave's bake time."""
    advance_when: AdvanceWhen
    """What lets the next wave be notified."""
    notified_at: Timestamp | None = None
    """When the wave was notified; null while it waits."""
    bake_ends_at: Timestamp | None = None
    """When the bake time ends."""
    counts: WaveCounts
    """Where its organizations stand."""
    gates: WaveGates
    """Its gate values and thresholds."""


class RolloutHaltView(ContractModel):
    """One halt of a rollout."""

    wave: int
    """The wave whose gate tripped."""
    gate: str
    """`failure` or `health`."""
    reason: str
    """The numbers behind the halt."""
    halted_at: Timestamp
    """When it halted."""
    resumed_at: Timestamp | None = None
    """When an operator resumed or advanced it."""


class RolloutView(ContractModel):
    """Answer to `GET /api/operator/releases/{version}/rollout` and to the operator actions."""

    version: Version
    """The release's version."""
    state: RolloutState
    """Running, paused, halted, completed or withdrawn."""
    current_wave: int
    """Index of the last wave notified."""
    waves: list[WaveView]
    """Every wave of the plan."""
    halts: list[RolloutHaltView] = Field(default_factory=list)
    """Every halt, oldest first."""
    updated_at: Timestamp
    """When the rollout last changed."""


class RolloutActionRequest(ContractModel):
    """Optional body of the operator's rollout actions."""

    reason: str | None = Field(default=None, max_length=500)
    """Why (kept in the audit trail; a withdrawal also tells the customers)."""


class ReleaseWithdrawnWebhook(ContractModel):
    """`release.withdrawn`: GCC took a release back. Sent, signed, to the organizations
    already notified, and carried by the updates poll."""

    event_type: Literal["release.withdrawn"] = RELEASE_WITHDRAWN
    """Always `release.withdrawn`."""
    release_id: UUID
    """GCC's id of the withdrawn release."""
    version: Version
    """The withdrawn version."""
    withdrawn_at: Timestamp
    """When it was withdrawn."""
    reason: str | None = Field(default=None, max_length=500)
    """Why it was withdrawn, as the operator said."""
    rollback_version: Version | None = None
    """The newest published version older than the withdrawn one: where an organization that
    deployed it rolls back to. Null when there is none."""
