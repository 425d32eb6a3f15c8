"""The gates of a wave and its advance condition, as plain arithmetic on its tally.

- failure gate: of the wave's finished deployments (deployed, failed or rolled back), the
  share that failed or rolled back passes ``failureThreshold``;
- health gate: of the wave's organizations that deployed and were online or degraded when
  their wave was notified, the share whose health is now worse (degraded, offline, critical)
  passes ``healthThreshold``. An organization already offline before is not counted at all;
- advance: the success threshold of the wave deployed, or the bake time passed, or either,
  as ``advanceWhen`` says. An organization that has not deployed yet is pending (or unknown
  when offline), never failed: it only delays a success-based advance.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from contracts import AdvanceWhen, RolloutWave, WaveCounts, WaveGates
from gcc.rollouts.repository import WaveTally


class Decision(enum.StrEnum):
    """What an evaluation does with the current wave."""

    WAIT = "wait"
    ADVANCE = "advance"
    HALT = "halt"


@dataclass(frozen=True)
class Verdict:
    """An evaluation's decision with the gate that tripped and its numbers."""

    decision: Decision
    gate: str | None = None
    reason: str = ""
    numbers: dict[str, Any] | None = None


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def gate_values(wave: RolloutWave, tally: WaveTally) -> WaveGates:
    """The wave's gate values beside their thresholds."""
    return WaveGates(
        success_rate=_share(tally.deployed, tally.targets),
        success_threshold=wave.success_threshold,
        failure_rate=_share(tally.failed, tally.deployed + tally.failed),
        failure_threshold=wave.failure_threshold,
        health_rate=_share(tally.regressed, tally.watched),
        health_threshold=wave.health_threshold,
    )


def wave_counts(tally: WaveTally) -> WaveCounts:
    """The contract view of a tally."""
    return WaveCounts(
        targets=tally.targets,
        pending=tally.pending,
        unknown=tally.unknown,
        in_progress=tally.in_progress,
        deployed=tally.deployed,
        failed=tally.failed,
        regressed=tally.regressed,
    )


def _numbers(tally: WaveTally, gates: WaveGates) -> dict[str, Any]:
    return {
        **wave_counts(tally).model_dump(mode="json"),
        **gates.model_dump(mode="json"),
    }


def judge(
    wave: RolloutWave, tally: WaveTally, *, index: int, notified_at: datetime, now: datetime
) -> Verdict:
    """Halt when a gate tripped, advance when the advance condition holds, else wait."""
    gates = gate_values(wave, tally)
    if gates.failure_rate > wave.failure_threshold:
        return Verdict(
            Decision.HALT,
            gate="failure",
            reason=(
                f"wave {index}: {tally.failed} of {tally.deployed + tally.failed} finished "
                f"deployments failed or rolled back ({gates.failure_rate:.1%}), above the "
                f"failure threshold of {wave.failure_threshold:.0%}"
            ),
            numbers=_numbers(tally, gates),
        )
    if gates.health_rate > wave.health_threshold:
        return Verdict(
            Decision.HALT,
            gate="health",
            reason=(
                f"wave {index}: {tally.regressed} of {tally.watched} organizations that "
                f"deployed turned degraded, offline or critical ({gates.health_rate:.1%}), "
                f"above the health threshold of {wave.health_threshold:.0%}"
            ),
            numbers=_numbers(tally, gates),
        )
    if tally.targets == 0:
        return Verdict(Decision.ADVANCE, reason=f"wave {index} has no organization")
    baked = now >= notified_at + timedelta(minutes=wave.bake_minutes)
    succeeded = gates.success_rate >= wave.success_threshold
    ready = {
        AdvanceWhen.BAKE: baked,
        AdvanceWhen.SUCCESS: succeeded,
        AdvanceWhen.EITHER: baked or succeeded,
    }[wave.advance_when]
    return Verdict(Decision.ADVANCE if ready else Decision.WAIT)
