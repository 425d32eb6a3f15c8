"""The delivery pump's bookkeeping: its lanes, its release cache and its answers to write."""

from __future__ import annotations

import time
import uuid
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from gcc.delivery.outcomes import Refusal
from gcc.delivery.repository import ReleaseDigests, TakenTarget
from gcc.delivery.requests import webhook_body
from gcc.delivery.sender import AttemptResult, ReleaseWebhook
from gcc.releases.manifests import ManifestSigner


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


class ReleaseCache:
    """Each release's webhook as last read, reused for ``max_age_seconds`` (so a deprecated
    release stops going out within that)."""

    def __init__(self, max_age_seconds: float) -> None:
        self._max_age = max_age_seconds
        self._entries: dict[uuid.UUID, CachedRelease] = {}

    def get(self, release_id: uuid.UUID) -> CachedRelease | None:
        """The release as last read, or None."""
        return self._entries.get(release_id)

    def to_read(self, release_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
        """Those of ``release_ids`` never read, or read too long ago."""
        stale = time.monotonic() - self._max_age
        return {
            release_id
            for release_id in release_ids
            if (cached := self._entries.get(release_id)) is None or cached.read_at < stale
        }

    def store(
        self,
        read: Iterable[uuid.UUID],
        found: dict[uuid.UUID, ReleaseDigests],
        *,
        signer: ManifestSigner | None,
        now: datetime,
    ) -> None:
        """Keep what reading ``read`` ``found`` (a release not found is forgotten), with each
        webhook's body built once for every target."""
        read_at = time.monotonic()
        for release_id in read:
            self._entries.pop(release_id, None)
        for release_id, release in found.items():
            body = webhook_body(release, signer=signer, now=now)
            webhook = (
                body
                if isinstance(body, str)
                else ReleaseWebhook.of(body, trace_parent=release.release.trace_parent)
            )
            self._entries[release_id] = CachedRelease(release, webhook, read_at)


@dataclass
class AnswerBuffer:
    """Answers and refusals not yet written back; ``first_at`` is when the first came."""

    results: list[AttemptResult] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)
    first_at: float = 0.0

    def __len__(self) -> int:
        return len(self.results) + len(self.refusals)
