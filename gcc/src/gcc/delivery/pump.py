"""The delivery pump: a bounded number of webhooks in flight, outcomes written as they come.

One pump runs per worker process (:mod:`gcc.delivery.pump_thread`). It claims due targets
itself (``FOR UPDATE SKIP LOCKED``: several pumps share a fan-out without waiting on each
other) in two lanes, first deliveries and retries, each with its own number of requests in
flight, so a receiver that timed out once never holds a slot a first delivery needs. A slow
receiver holds one slot, not a batch: each lane claims ahead (up to its capacity again,
waiting for a slot), so a slot freed by an answer starts its next request at once, and claims
come as a few large statements. No more than ``delivery_per_host_limit`` requests go to one
receiver at a time; a request whose receiver is at its limit waits, in its slot, for that
receiver's next answer.

Answers are written back in small groups (every :data:`FLUSH_GROUP` answers, or
:data:`FLUSH_SECONDS` after the first of a group), never at the end of a batch. Claimed
targets are leased for ``delivery_lease_seconds`` and the pump renews the lease of what it
holds every third of it, so the lease only runs out when the pump is gone: a worker killed
mid fan-out has its targets claimed again by another pump seconds later, with the same
``webhook-id``; at most the answers of the group not yet written are sent twice. A pump that
stops gives back what it holds at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import deque
from collections.abc import Callable
from datetime import timedelta

import aiohttp
import structlog

from gcc import metrics
from gcc.delivery import claims, outcomes, repository, sender
from gcc.delivery.lanes import AnswerBuffer, CachedRelease, Lane
from gcc.delivery.outcomes import DeliveryReport, Refusal
from gcc.delivery.repository import TakenTarget
from gcc.delivery.requests import plan_request, webhook_body
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
"""How long a release's webhook body is reused before it is read again (a deprecated release
stops going out within this)."""
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
        self._host_active: dict[str, int] = {}
        self._host_waiting: dict[str, deque[tuple[Lane, sender.WebhookRequest]]] = {}
        self._releases: dict[uuid.UUID, CachedRelease] = {}
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
        return sum(lane.active for lane in self._lanes)

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
                        + settings.delivery_retry_concurrency,
                        timeout_seconds=settings.webhook_timeout_seconds,
                        connect_timeout_seconds=settings.webhook_connect_timeout_seconds,
                    )
                )
            helpers = [
                asyncio.create_task(self._write_answers()),
                asyncio.create_task(self._renew_leases()),
            ]
            try:
                await self._pump(client, idle_seconds)
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
                acknowledged=self.report.acknowledged,
                retrying=self.report.retrying,
                failed=self.report.failed,
                rejected=self.report.rejected,
                gone=self.report.gone,
                duration_ms=round((time.perf_counter() - started) * 1000, 1),
            )
        return self.report

    # --- claiming and sending -----------------------------------------------------------

    async def _pump(self, client: aiohttp.ClientSession, idle_seconds: float) -> None:
        idle_since = time.monotonic()
        while not self._stopping:
            self._wake.clear()
            claimed = await self._claim(client)
            if claimed or self._held:
                idle_since = time.monotonic()
            elif time.monotonic() - idle_since >= idle_seconds and (
                self._may_finish is None or self._may_finish()
            ):
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), POLL_SECONDS)

    async def _claim(self, client: aiohttp.ClientSession) -> int:
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
            self._start_waiting(lane, client)
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
            stale = time.monotonic() - RELEASE_CACHE_SECONDS
            missing = {
                target.release_id
                for target in taken
                if target.release_id not in self._releases
                or self._releases[target.release_id].read_at < stale
            }
            found = await repository.releases_with_digests(session, missing)
        read_at = time.monotonic()
        for release_id in missing:
            self._releases.pop(release_id, None)
        signed_at = self.runtime.clock.now()
        for release_id, release in found.items():
            body = webhook_body(release, signer=self.runtime.manifest_signer, now=signed_at)
            webhook = (
                body
                if isinstance(body, str)
                else sender.ReleaseWebhook.of(body, trace_parent=release.release.trace_parent)
            )
            self._releases[release_id] = CachedRelease(release, webhook, read_at)
        for target in taken:
            self._held[target.target_id] = target
        return taken

    def _start_waiting(self, lane: Lane, client: aiohttp.ClientSession) -> None:
        """Start the lane's waiting targets while it has free slots (none once stopping)."""
        while lane.waiting and lane.active < lane.capacity and not self._stopping:
            self._start(lane, lane.waiting.popleft(), client)

    def _start(self, lane: Lane, target: TakenTarget, client: aiohttp.ClientSession) -> None:
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
        lane.active += 1
        host = sender.origin(planned.endpoint)
        if self._host_active.get(host, 0) < self.runtime.settings.delivery_per_host_limit:
            self._send(lane, planned, host, client)
        else:  # it keeps its lane slot while it waits for its receiver's turn
            self._host_waiting.setdefault(host, deque()).append((lane, planned))

    def _send(
        self,
        lane: Lane,
        request: sender.WebhookRequest,
        host: str,
        client: aiohttp.ClientSession,
    ) -> None:
        self._host_active[host] = self._host_active.get(host, 0) + 1
        task = asyncio.create_task(self._deliver(lane, request, host, client))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(
        self,
        lane: Lane,
        request: sender.WebhookRequest,
        host: str,
        client: aiohttp.ClientSession,
    ) -> None:
        try:
            result = await sender.send_one(
                request,
                client=client,
                clock=self.runtime.clock,
                timeout_seconds=self.runtime.settings.webhook_timeout_seconds,
            )
        finally:
            lane.active -= 1
            self._host_finished(host, client)
            self._start_waiting(lane, client)
            if lane.wants_more:
                self._wake.set()
        self._buffer.results.append(result)
        self._answer_arrived()

    def _host_finished(self, host: str, client: aiohttp.ClientSession) -> None:
        """One request to ``host`` ended: the next one waiting for it goes, or the host is
        forgotten (a fleet has as many hosts as organizations)."""
        remaining = self._host_active[host] - 1
        if remaining:
            self._host_active[host] = remaining
        else:
            del self._host_active[host]
        waiting = self._host_waiting.get(host)
        if not waiting:
            return
        lane, request = waiting.popleft()
        if not waiting:
            del self._host_waiting[host]
        if self._stopping:  # never sent: its target is given back with the rest
            lane.active -= 1
            return
        self._send(lane, request, host, client)

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
            release_id: self._releases[release_id].found
            for release_id in release_ids
            if release_id in self._releases
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
        if not self._pending_releases or (not force and now - self._fanout_checked_at < 1.0):
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
