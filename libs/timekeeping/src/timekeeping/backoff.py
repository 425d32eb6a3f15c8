"""How long to wait before trying again: one exponential backoff for every retry loop."""

from __future__ import annotations

import random

MAX_DOUBLINGS = 62
"""Past this many doublings any sensible cap is reached; it keeps ``2**n`` a small number."""


def backoff_delay(
    doublings: int,
    *,
    base: float,
    cap: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait: ``base`` doubled ``doublings`` times, at most ``cap``.

    With ``rng`` the wait is "equal jitter": uniform between half the delay and all of it, so
    many clients that failed together spread out, while each still backs off. Without it the
    delay is exact (for loops whose callers are few, and for tests).
    """
    delay = base * 2 ** min(max(doublings, 0), MAX_DOUBLINGS)
    if cap is not None:
        delay = min(cap, delay)
    if rng is None:
        return float(delay)
    return float(delay / 2 + rng.uniform(0, delay / 2))
