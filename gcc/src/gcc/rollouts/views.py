"""The operator's view of a rollout: its waves with their counts and gates, and its halts."""

from __future__ import annotations

from datetime import timedelta

from contracts import (
    RolloutHaltView,
    RolloutState,
    RolloutView,
    Version,
    WaveView,
)
from gcc.releases.models import Release, Rollout
from gcc.rollouts.gates import gate_values, wave_counts
from gcc.rollouts.repository import WaveTally
from gcc.rollouts.service import notified_at, plan_of


def rollout_view(release: Release, rollout: Rollout, tallies: dict[int, WaveTally]) -> RolloutView:
    """Where the rollout stands."""
    waves = []
    for index, wave in enumerate(plan_of(rollout).waves):
        tally = tallies.get(index, WaveTally())
        opened = notified_at(rollout, index)
        waves.append(
            WaveView(
                index=index,
                rings=wave.rings,
                percent=wave.percent,
                bake_minutes=wave.bake_minutes,
                advance_when=wave.advance_when,
                notified_at=opened,
                bake_ends_at=opened + timedelta(minutes=wave.bake_minutes) if opened else None,
                counts=wave_counts(tally),
                gates=gate_values(wave, tally),
            )
        )
    return RolloutView(
        version=Version.parse(release.version),
        state=RolloutState(rollout.state),
        current_wave=rollout.current_wave,
        waves=waves,
        halts=[RolloutHaltView.model_validate(halt) for halt in rollout.halts],
        updated_at=rollout.updated_at,
    )
