"""GCC's fan-out under faults: a worker killed mid-batch, Redis restarted, slow receivers.

Each test publishes one release to a fleet served on loopback by real receivers, with GCC's
``worker`` and ``beat`` as real processes on the private PostgreSQL and Redis. Publishing
commits the targets and sends ``delivery.dispatch_due``; beat sends it every second here.
Leases are GCC's default (15 s, renewed while held). What is counted: every organization
received exactly one webhook id (the one GCC recorded on its target; repeats of that id are
allowed, a second id never is), GCC acknowledged every target, and nothing was sent with a bad
signature. What is timed, against the targets of the fan-out's design: after a worker kill
or a broker outage, everything is acknowledged within :data:`RECOVERED_WITHIN` seconds of the
return; slow receivers delay the fast ones by less than twice the unharmed fan-out.
"""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from celery import Celery

from gcc.delivery.pump import FLUSH_GROUP
from gcc.settings import Settings
from servicekit.tasks import celery_sender
from servicekit.worker import route_tasks
from tests.chaos.fleet import (
    DeliveryState,
    FleetReceivers,
    ReceiverStats,
    delivery_state,
    insert_draft_release,
    insert_fleet,
    publish,
    target_webhook_ids,
)
from tools.private_services import PrivateRedis
from tools.stack import Process, Stack
from tools.waiting import wait_until
from wrktalk_testing.postgres import run_sync

FLEET = 1500
CONCURRENCY = 20
GCC = [sys.executable, "-m", "gcc.cli"]
RECOVERY_TIMEOUT = 180.0
"""How long a test waits at most, so that a miss prints its figure instead of hanging."""
RECOVERED_WITHIN = 20.0
"""Seconds after a restarted worker or a returned broker by which every target is
acknowledged: the lease (15 s, renewed every 5 s) and beat's next dispatch."""


@pytest.fixture(scope="module")
def receivers() -> Iterator[FleetReceivers]:
    running = FleetReceivers().start()
    try:
        yield running
    finally:
        running.close()


@pytest.fixture
def fleet(receivers: FleetReceivers) -> FleetReceivers:
    receivers.reset()
    return receivers


class FanOut:
    """One stack's GCC worker and beat, its fleet and its release."""

    def __init__(self, stack: Stack, receivers: FleetReceivers, size: int) -> None:
        self.stack = stack
        self.receivers = receivers
        self.size = size
        self.dsn = stack.config.database_url("gcc").replace("+asyncpg", "")
        self.published_at = 0.0

    def prepare(self, *, slow: Iterable[int] = ()) -> None:
        now = datetime.now(UTC)
        run_sync(lambda: insert_fleet(self.dsn, self.size, self.receivers, now, slow=slow))
        run_sync(lambda: insert_draft_release(self.dsn, now))
        self.start_worker()
        self.stack.spawn("gcc-beat", [*GCC, "beat"], self.stack.gcc_env())
        self.wait_worker_ready()

    def wait_worker_ready(self) -> None:
        """Wait until the worker answers a ping, so that timings start with a running one."""
        celery = Celery("chaos-ping", broker=self.stack.gcc_env()["GCC_REDIS_URL"])
        wait_until(
            lambda: bool(celery.control.ping(timeout=0.5)),
            timeout=120,
            what="the GCC worker answers a ping",
            interval=0.2,
        )

    def start_worker(self) -> Process:
        return self.stack.spawn("gcc-worker", [*GCC, "worker"], self.stack.gcc_env())

    def publish(self) -> None:
        """Publish through the releases service, which nudges ``dispatch_due`` after its
        commit, as the API does."""
        settings = Settings(database_url=self.stack.config.database_url("gcc"))
        celery = route_tasks(Celery("chaos-api"), scheduled=["delivery.dispatch_due"])
        dispatch = celery_sender(celery, self.stack.gcc_env()["GCC_REDIS_URL"])

        def send_task(name: str, *args: Any, **kwargs: Any) -> None:
            assert name == "delivery.dispatch_due"
            dispatch(name)

        _, targets = run_sync(lambda: publish(settings, send_task))
        assert targets == self.size
        self.published_at = time.monotonic()

    def state(self, names: set[str] | None = None) -> DeliveryState:
        return run_sync(lambda: delivery_state(self.dsn, names=names))

    def wait_finished(self, timeout: float = RECOVERY_TIMEOUT) -> DeliveryState:
        return wait_until(
            lambda: (state := self.state()).finished == self.size and state,
            timeout=timeout,
            what=f"all {self.size} targets acknowledged or given up",
            interval=0.5,
        )

    def wait_received(self, count: int) -> ReceiverStats:
        return wait_until(
            lambda: (stats := self.receivers.stats()).received >= count and stats,
            timeout=120,
            what=f"{count} webhooks at the receivers",
            interval=0.05,
        )

    def assert_each_delivered_once(self, indexes: set[int]) -> ReceiverStats:
        """Every organization in ``indexes`` got exactly its target's webhook id."""
        stats = self.receivers.stats()
        recorded = run_sync(lambda: target_webhook_ids(self.dsn))
        assert stats.bad_signature == 0
        assert stats.organizations_with_several_ids() == []
        assert set(stats.ids) == indexes
        assert {index: set(stats.ids[index]) for index in indexes} == {
            index: {recorded[index]} for index in indexes
        }
        return stats


def fan_out_stack(chaos_stack: Any, **gcc_env: str) -> Stack:
    stack: Stack = chaos_stack(
        extra_gcc_env={
            "GCC_DELIVERY_CONCURRENCY": str(CONCURRENCY),
            "GCC_DATABASE_POOL_SIZE": "5",
            **gcc_env,
        }
    )
    return stack


def test_worker_killed_mid_batch_delivers_each_target_once_after_restart(
    chaos_stack: Any, fleet: FleetReceivers
) -> None:
    fan_out = FanOut(fan_out_stack(chaos_stack), fleet, FLEET)
    fan_out.prepare()
    fan_out.publish()

    fan_out.wait_received(FLEET // 4)
    fan_out.stack.processes["gcc-worker"].stop(signal.SIGKILL)
    killed_at = time.monotonic()
    at_kill = fan_out.state()
    received_at_kill = fleet.stats().received
    assert at_kill.acknowledged < FLEET
    time.sleep(5)
    fan_out.start_worker()
    restarted_at = time.monotonic()
    final = fan_out.wait_finished()

    recovered_in = time.monotonic() - restarted_at
    stats = fan_out.assert_each_delivered_once(set(range(FLEET)))
    print(
        f"\nworker kill: {received_at_kill} received and {at_kill.acknowledged} acknowledged "
        f"at the kill; all acknowledged {recovered_in:.1f} s after the restart "
        f"({time.monotonic() - killed_at:.1f} s after the kill); {stats.repeats} repeated "
        f"deliveries (same webhook id)"
    )
    assert (final.acknowledged, final.failed) == (FLEET, 0)
    assert recovered_in < RECOVERED_WITHIN
    # only what the killed worker had sent and not yet recorded goes out again: what was in
    # flight and the group of answers not yet written
    assert stats.repeats <= CONCURRENCY + FLUSH_GROUP


def test_redis_restart_mid_fan_out_loses_nothing(
    chaos_stack: Any, fleet: FleetReceivers, private_redis: PrivateRedis
) -> None:
    fan_out = FanOut(fan_out_stack(chaos_stack), fleet, FLEET)
    fan_out.prepare()
    fan_out.publish()

    fan_out.wait_received(FLEET // 4)
    private_redis.kill()
    at_outage = fan_out.state()
    time.sleep(BROKER_DOWN_SECONDS)
    private_redis.start()
    returned_at = time.monotonic()
    at_return = fan_out.state()
    final = fan_out.wait_finished()

    recovered_in = time.monotonic() - returned_at
    stats = fan_out.assert_each_delivered_once(set(range(FLEET)))
    print(
        f"\nredis down {BROKER_DOWN_SECONDS:.0f} s: {at_outage.acknowledged} acknowledged as it "
        f"went, {at_return.acknowledged} at its return; all acknowledged {recovered_in:.1f} s "
        f"after it; {stats.repeats} repeated deliveries"
    )
    assert (final.acknowledged, final.failed) == (FLEET, 0)
    assert at_outage.acknowledged < FLEET
    assert recovered_in < RECOVERED_WITHIN
    assert stats.repeats == 0


def test_a_release_published_while_redis_is_down_is_delivered_after_its_return(
    chaos_stack: Any, fleet: FleetReceivers, private_redis: PrivateRedis
) -> None:
    fan_out = FanOut(fan_out_stack(chaos_stack), fleet, FLEET)
    fan_out.prepare()
    private_redis.kill()
    try:
        fan_out.publish()  # the commit is the decision: the nudge's failure is only logged
        assert fan_out.state().targets == FLEET
    finally:
        time.sleep(BROKER_DOWN_SECONDS)
        private_redis.start()
    returned_at = time.monotonic()
    final = fan_out.wait_finished()

    recovered_in = time.monotonic() - returned_at
    fan_out.assert_each_delivered_once(set(range(FLEET)))
    print(
        f"\npublished while redis was down: all {FLEET} acknowledged {recovered_in:.1f} s "
        "after its return"
    )
    assert (final.acknowledged, final.failed) == (FLEET, 0)
    assert recovered_in < RECOVERED_WITHIN


BROKER_DOWN_SECONDS = 10.0

SLOW_FLEET = 1000
SLOW = set(range(7, SLOW_FLEET, 100))
"""1% of the fleet reads one byte a second."""
SLOW_TIMEOUT_SECONDS = 2
SLOW_MAX_ATTEMPTS = 2
SLOW_CONCURRENCY = 50


def slow_fan_out(chaos_stack: Any, fleet: FleetReceivers) -> FanOut:
    return FanOut(
        fan_out_stack(
            chaos_stack,
            GCC_DELIVERY_CONCURRENCY=str(SLOW_CONCURRENCY),
            GCC_WEBHOOK_TIMEOUT_SECONDS=str(SLOW_TIMEOUT_SECONDS),
            GCC_WEBHOOK_MAX_ATTEMPTS=str(SLOW_MAX_ATTEMPTS),
        ),
        fleet,
        SLOW_FLEET,
    )


def test_slow_receivers_do_not_keep_the_fast_ones_from_their_webhooks(
    chaos_stack: Any, fleet: FleetReceivers
) -> None:
    unharmed = slow_fan_out(chaos_stack, fleet)
    unharmed.prepare()
    unharmed.publish()
    unharmed.wait_finished()
    unharmed_in = time.monotonic() - unharmed.published_at
    for process in unharmed.stack.processes.values():
        process.stop(signal.SIGKILL)
    fleet.reset()

    fan_out = slow_fan_out(chaos_stack, fleet)
    fan_out.prepare(slow=SLOW)
    fast = set(range(SLOW_FLEET)) - SLOW
    fast_names = {f"fanout-{index:06d}" for index in fast}
    fan_out.publish()

    fast_state = wait_until(
        lambda: (state := fan_out.state(fast_names)).acknowledged == len(fast) and state,
        timeout=RECOVERY_TIMEOUT,
        what="every fast receiver acknowledged",
        interval=0.1,
    )
    fast_done_in = time.monotonic() - fan_out.published_at
    final = fan_out.wait_finished()

    fan_out.assert_each_delivered_once(fast)
    slow_state = fan_out.state({f"fanout-{index:06d}" for index in SLOW})
    print(
        f"\nslow receivers: unharmed fan-out of {SLOW_FLEET} acknowledged in "
        f"{unharmed_in:.1f} s; with {len(SLOW)} slow ones, the {len(fast)} fast ones in "
        f"{fast_done_in:.1f} s ({fast_done_in / unharmed_in:.2f}x); the slow ones failed after "
        f"{slow_state.attempts} attempts in all"
    )
    assert fast_state.failed == 0
    # the slow ones never answer within the timeout: each is tried and given up on, recorded
    assert (slow_state.acknowledged, slow_state.failed) == (0, len(SLOW))
    assert final.finished == SLOW_FLEET
    assert fleet.stats().slow_connections >= len(SLOW)
    # a slow receiver holds one slot for its timeout, never the fast ones' turn; the second
    # allows for the pump's start and beat's tick on a fan-out of a second or two
    assert fast_done_in <= 2 * unharmed_in + 1.0
