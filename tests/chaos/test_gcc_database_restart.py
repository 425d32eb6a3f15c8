"""``gcc serve`` under heartbeat load while PostgreSQL restarts, again and again.

The fleet and its API keys are the heartbeat benchmark's (``bench/gcc_fleet.py``). Load
generators post heartbeats in a closed loop while the private PostgreSQL is stopped and started
three times. Every answer is counted: a heartbeat is recorded (200) or answered 503 with
``Retry-After`` while the database is away, never 500; and once the database is back, every
heartbeat is recorded again.
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from bench.gcc_fleet import api_key_of, insert_fleet, name_of
from tools.private_services import PrivatePostgres
from tools.stack import Stack
from tools.waiting import wait_until
from wrktalk_testing.postgres import run_sync

ORGANIZATIONS = 500
SENDERS = 12
RESTARTS = 3
DOWN_SECONDS = 2.0
STEADY_SECONDS = 3.0
"""Load before the first restart, between restarts, and after the last one."""
BODY = (
    '{"version": "2.3.0", "status": "healthy", '
    f'"agentLastPoll": "{datetime.now(UTC).isoformat()}", '
    f'"timestamp": "{datetime.now(UTC).isoformat()}"}}'
)


@dataclass
class Answers:
    """Every heartbeat's answer, in order, with when it was sent."""

    statuses: list[tuple[float, int]] = field(default_factory=list)
    without_retry_after: int = 0
    transport_errors: list[str] = field(default_factory=list)
    other_bodies: list[str] = field(default_factory=list)

    def counts(self, since: float = 0.0) -> Counter[int]:
        return Counter(status for sent_at, status in self.statuses if sent_at >= since)


async def send_heartbeats(base_url: str, answers: Answers, stop: asyncio.Event) -> None:
    rng = random.Random()
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        while not stop.is_set():
            index = rng.randrange(ORGANIZATIONS)
            sent_at = time.monotonic()
            try:
                response = await client.post(
                    f"/api/v1/organizations/{name_of(index)}/heartbeat",
                    content=BODY,
                    headers={
                        "Authorization": f"Bearer {api_key_of(index)}",
                        "Content-Type": "application/json",
                    },
                )
            except httpx.HTTPError as error:
                answers.transport_errors.append(repr(error))
                continue
            answers.statuses.append((sent_at, response.status_code))
            if response.status_code == 503 and "retry-after" not in response.headers:
                answers.without_retry_after += 1
            if response.status_code not in (200, 503):
                answers.other_bodies.append(response.text[:300])


async def load_while_restarting(
    base_url: str, postgres: PrivatePostgres, answers: Answers
) -> float:
    """Heartbeats throughout; PostgreSQL restarted ``RESTARTS`` times; when it last returned."""
    stop = asyncio.Event()
    senders = [
        asyncio.create_task(send_heartbeats(base_url, answers, stop)) for _ in range(SENDERS)
    ]
    try:
        for _ in range(RESTARTS):
            await asyncio.sleep(STEADY_SECONDS)
            await asyncio.to_thread(postgres.restart, DOWN_SECONDS)
        returned_at = time.monotonic()
        await asyncio.sleep(STEADY_SECONDS * 2)
    finally:
        stop.set()
        await asyncio.gather(*senders)
    return returned_at


def test_heartbeats_answer_503_with_retry_after_never_500_while_postgres_restarts(
    chaos_stack: Any, private_postgres: PrivatePostgres
) -> None:
    stack: Stack = chaos_stack(extra_gcc_env={"GCC_LOG_LEVEL": "WARNING"})
    url = stack.config.database_url("gcc")
    run_sync(lambda: insert_fleet(url, ORGANIZATIONS, now=datetime.now(UTC)))
    port = stack.config.gcc_port
    stack.spawn(
        "gcc-api",
        [sys.executable, "-m", "gcc.cli", "serve", "--port", str(port)],
        stack.gcc_env(),
    )
    base_url = stack.config.gcc_url
    wait_until(lambda: _ready(base_url), timeout=120, what="gcc serve")

    answers = Answers()
    returned_at = asyncio.run(load_while_restarting(base_url, private_postgres, answers))

    counts = answers.counts()
    print(f"\nheartbeats during {RESTARTS} PostgreSQL restarts: {dict(counts)}")
    assert answers.transport_errors == []
    assert answers.other_bodies == []
    assert set(counts) <= {200, 503}
    assert answers.without_retry_after == 0
    assert counts[503] > 0, "no heartbeat met the database away: the restarts did not bite"
    assert counts[200] > 0
    # back to normal within a few seconds of the last return: the pool replaced its connections
    settled = answers.counts(since=returned_at + STEADY_SECONDS)
    assert settled[200] > 0
    assert settled[503] == 0


def _ready(base_url: str) -> bool:
    try:
        return httpx.get(f"{base_url}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
