"""The delivery pump: a bounded number of webhooks in flight, outcomes written as they come.

One pump runs per worker process (:mod:`gcc.delivery.pump_thread`). It claims due targets
itself (``FOR UPDATE SKIP LOCKED``: several pumps share a fan-out) in two lanes, first
deliveries and retries, each with its own slots, so a receiver that timed out once never
holds a slot a first delivery needs. Each lane claims ahead (up to its capacity again), so a
freed slot starts its next request at once; :mod:`gcc.delivery.slots` decides when a request
may go (the per-receiver cap) and frees the slots of slow ones.

Answers are written back in small groups (every :data:`FLUSH_GROUP` answers, or
:data:`FLUSH_SECONDS` after the first of a group). Claimed targets are leased for
``delivery_lease_seconds`` and renewed every third of it while held, so a lease only runs out
when its pump is gone: a killed worker's targets are claimed again seconds later, with the
same ``webhook-id``; at most the answers not yet written are sent twice. A pump that stops
gives back what it holds at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
import uuid
from collections.abc import Callable
from datetime import timedelta

import aiohttp
import structlog

from gcc import metrics
from gcc.delivery import claims, outcomes, repository, sender
from gcc.delivery.lanes import AnswerBuffer, Lane, ReleaseCache
from gcc.delivery.outcomes import DeliveryReport, Refusal
from gcc.delivery.repository import TakenTarget
from gcc.delivery.requests import plan_request
from gcc.delivery.slots import Admitted, Slots
from gcc.runtime import Runtime
from servicekit.db import session_scope

log = structlog.get_logger(__name__)

FLUSH_GROUP = 50
"""Answers written back in one group."""
FLUSH_SECONDS = 0.2
"""The longest an answer waits to be written back."""
POLL_SECONDS = 0.5
"""How often a lane that found nothing due looks again while the pump runs."""
RELEASE_CACHE_SECONDS = 5.0
"""How long a release's webhook is reused before it is read again."""
RETRY_WRITE_SECONDS = 1.0
"""Wait before writing answers again after the database refused them."""
STOP_GRACE_SECONDS = 5.0
"""How long a stopping pump waits for requests in flight before giving their targets back."""
FANOUT_CHECK_SECONDS = 1.0
"""How often the pump checks whether the releases it delivered have no webhook left pending."""


class DeliveryPump:
    """Claim, send and record webhook deliveries until nothing is due for a while."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        client: aiohttp.ClientSession | None = None,
        may_finish: Callable[[], bool] | None = None,
    ) -> None:
        """``client`` is the HTTP session to send through (the pump opens its own without
        one); ``may_finish`` is asked before an idle pump ends (False keeps it running)."""
        settings = runtime.settings
        self.runtime = runtime
        self.report = DeliveryReport()
        self._client = client
        self._may_finish = may_finish
        self._lanes = (
            Lane("first", retries=False, capacity=settings.delivery_concurrency),
            Lane("retry", retries=True, capacity=settings.delivery_retry_concurrency),
        )
        self._lease = timedelta(seconds=settings.delivery_lease_seconds)
        self._held: dict[uuid.UUID, TakenTarget] = {}
        self._slots = Slots(
            per_host_limit=settings.delivery_per_host_limit,
            slow_after_seconds=settings.delivery_slow_after_seconds,
            slow_limit=settings.delivery_slow_limit,
            send=self._send,
            freed=self._slot_freed,
            stopping=lambda: self._stopping,
        )
        self._http: aiohttp.ClientSession | None = None
        self._releases = ReleaseCache(RELEASE_CACHE_SECONDS)
        self._buffer = AnswerBuffer()
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._answered = asyncio.Event()
        self._stopping = False
        self._pending_releases: set[uuid.UUID] = set()
        self._fanout_checked_at = 0.0

    def nudge(self) -> None:
        """New work may be due (a publish): every lane looks now. Call on the pump's loop."""
        for lane in self._lanes:
            lane.next_claim_at = 0.0
        self._wake.set()

    def stop(self) -> None:
        """Claim nothing more, give back what is not answered soon. Call on the pump's loop."""
        self._stopping = True
        self._wake.set()

    @property
    def in_flight(self) -> int:
        """Requests on their way or waiting for their receiver's turn."""
        return sum(lane.active for lane in self._lanes) + self._slots.slow

    async def run(self, *, idle_seconds: float) -> DeliveryReport:
        """Deliver until nothing was due and nothing held for ``idle_seconds``, or stopped."""
        started = time.perf_counter()
        settings = self.runtime.settings
        async with contextlib.AsyncExitStack() as stack:
            client = self._client
            if client is None:
                client = await stack.enter_async_context(
                    sender.open_client(
                        concurrency=settings.delivery_concurrency
                        + settings.delivery_retry_concurrency
                        + settings.delivery_slow_limit,
                        timeout_seconds=settings.webhook_timeout_seconds,
                        connect_timeout_seconds=settings.webhook_connect_timeout_seconds,
                    )
                )
            helpers = [
                asyncio.create_task(self._write_answers()),
                asyncio.create_task(self._renew_leases()),
                asyncio.create_task(self._sweep_slow()),
            ]
            self._http = client
            try:
                await self._pump(idle_seconds)
                await self._finish_requests()
            finally:
                for helper in helpers:
                    helper.cancel()
                await asyncio.gather(*helpers, return_exceptions=True)
                await self._cancel_requests()
                await self._give_back()
        await self._observe_finished_fanouts(force=True)
        if self.report.total:
            log.info(
                "webhook.pump.completed",
                **dataclasses.asdict(self.report),
                duration_ms=round((time.perf_counter() - started) * 1000, 1),
            )
        return self.report

    # --- claiming and sending -----------------------------------------------------------

    async def _pump(self, idle_seconds: float) -> None:
        idle_since = time.monotonic()
        while not self._stopping:
            self._wake.clear()
            claimed = await self._claim()
            if claimed or self._held:
                idle_since = time.monotonic()
            elif time.monotonic() - idle_since >= idle_seconds and (
                self._may_finish is None or self._may_finish()
            ):
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), POLL_SECONDS)

    async def _claim(self) -> int:
        claimed = 0
        for lane in self._lanes:
            now = time.monotonic()
            room = lane.room
            if room <= 0 or not lane.wants_more or now < lane.next_claim_at:
                continue
            try:
                taken = await self._claim_lane(lane, room)
            except Exception as exc:  # the database is away: try again shortly
                log.warning("webhook.claim.failed", lane=lane.name, error=str(exc))
                lane.next_claim_at = now + RETRY_WRITE_SECONDS
                continue
            lane.next_claim_at = now if len(taken) == room else now + POLL_SECONDS
            claimed += len(taken)
            lane.waiting.extend(taken)
            self._start_waiting(lane)
        return claimed

    async def _claim_lane(self, lane: Lane, limit: int) -> list[TakenTarget]:
        now = self.runtime.clock.now()
        async with session_scope(self.runtime.session_factory) as session:
            taken = await claims.claim_targets(
                session,
                retries=lane.retries,
                limit=limit,
                held=self._held.keys(),
                now=now,
                lease_until=now + self._lease,
            )
            to_read = self._releases.to_read({target.release_id for target in taken})
            found = await repository.releases_with_digests(session, to_read)
        self._releases.store(
            to_read, found, signer=self.runtime.manifest_signer, now=self.runtime.clock.now()
        )
        for target in taken:
            self._held[target.target_id] = target
        return taken

    def _start_waiting(self, lane: Lane) -> None:
        """Start the lane's waiting targets while it has free slots (none once stopping)."""
        while lane.waiting and lane.active < lane.capacity and not self._stopping:
            self._start(lane, lane.waiting.popleft())

    def _slot_freed(self, lane: Lane) -> None:
        self._start_waiting(lane)
        if lane.wants_more:
            self._wake.set()

    def _start(self, lane: Lane, target: TakenTarget) -> None:
        cached = self._releases.get(target.release_id)
        webhook = cached.webhook if cached is not None else "the release no longer exists"
        self._pending_releases.add(target.release_id)
        planned = plan_request(
            target, webhook, settings=self.runtime.settings, now=self.runtime.clock.now()
        )
        if isinstance(planned, Refusal):
            self._buffer.refusals.append(planned)
            self._answer_arrived()
            return
        self._slots.admit(lane, planned)

    def _send(self, admitted: Admitted) -> None:
        task = asyncio.create_task(self._deliver(admitted))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, admitted: Admitted) -> None:
        assert self._http is not None
        try:
            result = await sender.send_one(
                admitted.request,
                client=self._http,
                clock=self.runtime.clock,
                timeout_seconds=self.runtime.settings.webhook_timeout_seconds,
            )
        finally:
            self._slots.finished(admitted)
        self._buffer.results.append(result)
        self._answer_arrived()

    def _answer_arrived(self) -> None:
        if not self._buffer.first_at:
            self._buffer.first_at = time.monotonic()
        self._answered.set()

    async def _finish_requests(self) -> None:
        """Let the requests in flight end (all of them, or those that end within the grace
        of a stop), then write every answer."""
        if self._tasks:
            timeout = STOP_GRACE_SECONDS if self._stopping else None
            await asyncio.wait(set(self._tasks), timeout=timeout)
        await self._cancel_requests()
        with contextlib.suppress(Exception):
            await self._write_group()

    async def _cancel_requests(self) -> None:
        self._stopping = True  # a cancelled request starts none waiting behind it
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # --- writing answers back -----------------------------------------------------------

    async def _write_answers(self) -> None:
        """Write answers back as they come: a group of :data:`FLUSH_GROUP`, whatever arrived
        within :data:`FLUSH_SECONDS`, or everything once no request is in flight."""
        while True:
            await self._answered.wait()
            self._answered.clear()
            if not self._buffer:
                continue
            wait = self._buffer.first_at + FLUSH_SECONDS - time.monotonic()
            if len(self._buffer) < FLUSH_GROUP and self.in_flight and wait > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._answered.wait(), wait)
                self._answered.set()  # look again: the group may be complete or due
                continue
            try:
                await self._write_group()
            except Exception as exc:  # the database is away: the answers stay, and wait
                log.warning(
                    "webhook.outcomes.write_failed", answers=len(self._buffer), error=str(exc)
                )
                await asyncio.sleep(RETRY_WRITE_SECONDS)
                self._answered.set()

    async def _write_group(self) -> None:
        buffer, self._buffer = self._buffer, AnswerBuffer()
        if not buffer:
            return
        targets = {result.target_id: self._held[result.target_id] for result in buffer.results}
        release_ids = {target.release_id for target in targets.values()} | {
            refusal.target.release_id for refusal in buffer.refusals
        }
        releases = {
            release_id: cached.found
            for release_id in release_ids
            if (cached := self._releases.get(release_id)) is not None
        }
        try:
            report = await outcomes.record_outcomes(
                self.runtime, targets, releases, buffer.results, buffer.refusals
            )
        except BaseException:
            # kept for the next write, ahead of what arrived meanwhile
            self._buffer.results[:0] = buffer.results
            self._buffer.refusals[:0] = buffer.refusals
            self._buffer.first_at = buffer.first_at
            raise
        for target_id in targets:
            self._held.pop(target_id, None)
        for refusal in buffer.refusals:
            self._held.pop(refusal.target.target_id, None)
        self.report += report
        outcomes.count_deliveries(report, buffer.results)
        self._wake.set()
        await self._observe_finished_fanouts()

    async def _observe_finished_fanouts(self, *, force: bool = False) -> None:
        """Observe the fan-out duration of each release this pump delivered that has no
        webhook left pending (at most one short query a second)."""
        now = time.monotonic()
        if not self._pending_releases or (
            not force and now - self._fanout_checked_at < FANOUT_CHECK_SECONDS
        ):
            return
        self._fanout_checked_at = now
        try:
            async with session_scope(self.runtime.session_factory) as session:
                pending = await repository.releases_with_pending_webhooks(
                    session, self._pending_releases
                )
        except Exception as exc:
            log.warning("webhook.fanout.check_failed", error=str(exc))
            return
        at = self.runtime.clock.now()
        for release_id in self._pending_releases - pending:
            cached = self._releases.get(release_id)
            published_at = cached.found.release.published_at if cached else None
            if published_at is not None:
                metrics.FANOUT_DURATION.observe(max((at - published_at).total_seconds(), 0.0))
        self._pending_releases &= pending

    async def _sweep_slow(self) -> None:
        """Four times per ``delivery_slow_after_seconds``, free the slots of slow requests."""
        every = self.runtime.settings.delivery_slow_after_seconds / 4
        while True:
            await asyncio.sleep(every)
            self._slots.sweep(time.monotonic())

    # --- leases -------------------------------------------------------------------------

    async def _renew_leases(self) -> None:
        """Every third of the lease, move the lease of everything held (one statement)."""
        while True:
            await asyncio.sleep(self._lease.total_seconds() / 3)
            if not self._held:
                continue
            now = self.runtime.clock.now()
            try:
                async with session_scope(self.runtime.session_factory) as session:
                    await claims.renew_leases(
                        session, target_ids=list(self._held), lease_until=now + self._lease
                    )
            except Exception as exc:
                log.warning("webhook.lease.renew_failed", targets=len(self._held), error=str(exc))

    async def _give_back(self) -> None:
        """Release the lease of what the pump still holds (answers it could not write, or
        requests it gave up waiting for): another pump claims them at once."""
        if not self._held:
            return
        held = list(self._held)
        try:
            async with session_scope(self.runtime.session_factory) as session:
                await claims.release_leases(session, target_ids=held)
        except Exception as exc:  # their leases run out instead
            log.warning("webhook.lease.release_failed", targets=len(held), error=str(exc))
            return
        log.info("webhook.lease.released", targets=len(held))
        self._held.clear()


async def deliver_due(
    runtime: Runtime, *, client: aiohttp.ClientSession | None = None
) -> DeliveryReport:
    """Deliver what is due now and return as soon as nothing is (tests and scripts)."""
    return await DeliveryPump(runtime, client=client).run(idle_seconds=0)
