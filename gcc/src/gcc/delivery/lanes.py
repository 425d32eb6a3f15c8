"""The delivery pump's bookkeeping: its lanes, its release cache and its answers to write."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from gcc.delivery.outcomes import Refusal
from gcc.delivery.repository import ReleaseDigests, TakenTarget
from gcc.delivery.sender import AttemptResult, ReleaseWebhook


@dataclass
class Lane:
    """One lane of a pump: first deliveries or retries, with its own slots.

    The lane claims ahead: besides the ``capacity`` requests in flight it holds up to as many
    claimed targets ``waiting`` for a slot, so a freed slot starts its next request at once,
    and claims come in a few large statements instead of many small ones.
    """

    name: str
    retries: bool
    capacity: int
    active: int = 0
    next_claim_at: float = 0.0
    waiting: deque[TakenTarget] = field(default_factory=deque)

    @property
    def room(self) -> int:
        """How many targets a claim may add: up to twice the capacity held in all."""
        return 2 * self.capacity - self.active - len(self.waiting)

    @property
    def wants_more(self) -> bool:
        """Whether a claim is worth its statement now: fewer than half the capacity waits."""
        return len(self.waiting) < max(1, self.capacity // 2)


@dataclass
class CachedRelease:
    """A release and its webhook (or why it is not sent), as read at ``read_at``."""

    found: ReleaseDigests
    webhook: ReleaseWebhook | str
    read_at: float


@dataclass
class AnswerBuffer:
    """Answers and refusals not yet written back; ``first_at`` is when the first came."""

    results: list[AttemptResult] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)
    first_at: float = 0.0

    def __len__(self) -> int:
        return len(self.results) + len(self.refusals)
