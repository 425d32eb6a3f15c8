"""The delivery pump's bookkeeping: its lanes, its release cache and its answers to write."""

from __future__ import annotations

from dataclasses import dataclass, field

from gcc.delivery.outcomes import Refusal
from gcc.delivery.repository import ReleaseDigests
from gcc.delivery.sender import AttemptResult


@dataclass
class Lane:
    """One lane of a pump: first deliveries or retries, with its own slots."""

    name: str
    retries: bool
    capacity: int
    active: int = 0
    next_claim_at: float = 0.0

    @property
    def refill(self) -> int:
        """Free slots worth a claim while requests are in flight (fewer claims, same flow)."""
        return max(1, self.capacity // 4)


@dataclass
class CachedRelease:
    """A release and its webhook body (or why it is not sent), as read at ``read_at``."""

    found: ReleaseDigests
    body: bytes | str
    read_at: float


@dataclass
class AnswerBuffer:
    """Answers and refusals not yet written back; ``first_at`` is when the first came."""

    results: list[AttemptResult] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)
    first_at: float = 0.0

    def __len__(self) -> int:
        return len(self.results) + len(self.refusals)
