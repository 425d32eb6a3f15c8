"""Who may send now: each lane's slots, one receiver's share, and the slow requests.

A request admitted into a lane takes one of its slots. If its receiver (scheme, host and
port) already has ``per_host_limit`` requests on their way, it waits, in its slot, for that
receiver's next answer. A request not answered within ``slow_after_seconds`` (or still
waiting for its receiver's turn by then; the pump looks with :meth:`Slots.sweep` a few times
per ``slow_after_seconds``) gives its slot back to the lane and carries on as a slow request,
up to ``slow_limit`` of them: a receiver that reads slowly then costs one
socket until the webhook timeout ends it, not a slot the next first delivery needs. With
1% of receivers slow, one lane of 100 slots would otherwise hold nothing but slow requests
(a 10 s timeout at 4,000 deliveries a second is 400 of them at once).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from gcc.delivery.lanes import Lane
from gcc.delivery.sender import WebhookRequest, origin


@dataclass(eq=False)
class Admitted:
    """A request given a slot: on its way, or waiting for its receiver's turn."""

    lane: Lane
    request: WebhookRequest
    host: str
    admitted_at: float
    slow: bool = False
    """It gave its lane slot back and counts among the slow requests."""
    done: bool = False


class Slots:
    """The slot bookkeeping of one pump; ``send`` starts an admitted request, ``freed`` is
    told when a lane has a slot again, ``stopping`` says whether the pump stops (a request
    waiting for its receiver is not sent then). Runs on the pump's event loop only."""

    def __init__(
        self,
        *,
        per_host_limit: int,
        slow_after_seconds: float,
        slow_limit: int,
        send: Callable[[Admitted], None],
        freed: Callable[[Lane], None],
        stopping: Callable[[], bool],
    ) -> None:
        self._per_host_limit = per_host_limit
        self._slow_after = slow_after_seconds
        self._slow_limit = slow_limit
        self._send = send
        self._freed = freed
        self._stopping = stopping
        self._host_active: dict[str, int] = {}
        self._host_waiting: dict[str, deque[Admitted]] = {}
        self._by_age: deque[Admitted] = deque()
        """Every admitted request not yet swept, oldest first (admission order)."""
        self.slow = 0
        """Requests that gave their lane slot back."""

    def admit(self, lane: Lane, request: WebhookRequest) -> None:
        """Give ``request`` a slot of ``lane``: send it now, or when its receiver's turn comes."""
        lane.active += 1
        admitted = Admitted(lane, request, origin(request.endpoint), time.monotonic())
        self._by_age.append(admitted)
        if self._host_active.get(admitted.host, 0) < self._per_host_limit:
            self._go(admitted)
        else:
            self._host_waiting.setdefault(admitted.host, deque()).append(admitted)

    def finished(self, admitted: Admitted) -> None:
        """``admitted`` was answered (or gave up): its receiver's next request goes, and its
        slot is free again."""
        host = admitted.host
        remaining = self._host_active[host] - 1
        if remaining:
            self._host_active[host] = remaining
        else:  # forgotten at zero: a fleet has as many receivers as organizations
            del self._host_active[host]
        waiting = self._host_waiting.get(host)
        if waiting:
            following = waiting.popleft()
            if not waiting:
                del self._host_waiting[host]
            if self._stopping():  # never sent: its target is given back with the rest
                self._release(following)
            else:
                self._go(following)
        self._release(admitted)

    def _go(self, admitted: Admitted) -> None:
        self._host_active[admitted.host] = self._host_active.get(admitted.host, 0) + 1
        self._send(admitted)

    def _release(self, admitted: Admitted) -> None:
        admitted.done = True
        if admitted.slow:
            self.slow -= 1
        else:
            admitted.lane.active -= 1
            self._freed(admitted.lane)

    def sweep(self, now: float) -> None:
        """Turn every request admitted ``slow_after_seconds`` before ``now`` and not yet
        answered into a slow one, while there is room; the others keep their slots."""
        oldest_kept = now - self._slow_after
        while self._by_age and self._by_age[0].admitted_at <= oldest_kept:
            admitted = self._by_age.popleft()
            if admitted.done or self.slow >= self._slow_limit:
                continue
            admitted.slow = True
            self.slow += 1
            admitted.lane.active -= 1
            self._freed(admitted.lane)
