"""The customer backend's outbox to GCC, with GCC down and with GCC's answers lost.

Real processes: ``gcc serve`` and the customer backend's ``worker`` and ``beat`` (which flush
the outbox), the backend reaching GCC through a TCP relay. The reports are
deployment status reports (``success``, each with its own ``deployedAt``) about a few
releases, written into the outbox as the deployments domain writes them; each one is one
version history row at GCC. What is counted:

- GCC down while the reports are written: once it is back, GCC records every report exactly
  once, and every outbox row is sent;
- GCC acts on reports but its answers are lost on the way back: the backend sends those again
  (it cannot know), GCC's version history still holds every report exactly once, and GCC saw
  exactly as many requests as the outbox made attempts.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from bench.gcc_fleet import api_key_of, insert_fleet, name_of
from signing import generate_secret
from tests.chaos.broker import beat_sender
from tools.stack import CustomerSpec, Stack
from tools.stack_credentials import CustomerCredentials
from tools.waiting import wait_until
from wrktalk_testing.network import free_port
from wrktalk_testing.postgres import run_sync
from wrktalk_testing.relay import TcpRelay, relay

RELEASES = 3
REPORTS_PER_RELEASE = 8
REPORTS = RELEASES * REPORTS_PER_RELEASE
OUTBOX_TIMEOUT = 150.0
"""Generous: the outbox backs off 15 s after a failure, and processes start slowly on a busy
machine."""
CUSTOMER = name_of(0)
GCC = [sys.executable, "-m", "gcc.cli"]
BACKEND = [sys.executable, "-m", "customer_backend.cli"]
RECORDED_EVENT = "deployments.status.recorded"
FLUSH = "reporting.flush_outbox"
FLUSH_EVERY_SECONDS = 2.0
"""Beat flushes every 15 s; the tests send the flush more often, as beat would, to keep
their time down. The outbox's own back-off (15 s after a failure) still applies."""


@pytest.fixture
def gcc_link() -> Iterator[TcpRelay]:
    with relay(free_port(), free_port()) as link:
        yield link


@dataclass
class OutboxRig:
    """A GCC and one customer backend, and the databases of both."""

    stack: Stack
    link: TcpRelay
    customer: CustomerSpec
    release_ids: list[uuid.UUID]

    @property
    def gcc_dsn(self) -> str:
        return self.stack.config.database_url("gcc").replace("+asyncpg", "")

    @property
    def backend_dsn(self) -> str:
        return self.stack.config.database_url(self.customer.name).replace("+asyncpg", "")

    def start_gcc(self) -> None:
        self.stack.spawn(
            "gcc-api",
            [*GCC, "serve", "--port", str(self.stack.config.gcc_port)],
            self.stack.gcc_env(),
        )
        wait_until(lambda: _ready(self.stack.config.gcc_url), timeout=120, what="gcc serve")

    def start_backend(self) -> None:
        env = self.stack.backend_env(self.customer)
        self.stack.spawn("backend-worker", [*BACKEND, "worker"], env)
        self.stack.spawn("backend-beat", [*BACKEND, "beat"], env)

    def write_reports(self) -> None:
        run_sync(lambda: insert_reports(self.backend_dsn, self.release_ids))

    def outbox(self) -> dict[str, int]:
        return run_sync(lambda: outbox_counts(self.backend_dsn))

    def wait_outbox(self, condition: Any, what: str) -> dict[str, int]:
        """Wait for ``condition`` on the outbox's counts, flushing every 2 s meanwhile."""
        flush = beat_sender(self.stack.backend_env(self.customer)["WRKTALK_REDIS_URL"], FLUSH)
        flushed_at = 0.0

        def check() -> dict[str, int] | None:
            nonlocal flushed_at
            if time.monotonic() - flushed_at >= FLUSH_EVERY_SECONDS:
                flush()
                flushed_at = time.monotonic()
            counts = self.outbox()
            return counts if condition(counts) else None

        return wait_until(check, timeout=OUTBOX_TIMEOUT, what=what, interval=0.5)

    def history_rows(self) -> int:
        return run_sync(lambda: count_history(self.gcc_dsn))

    def requests_recorded_by_gcc(self) -> int:
        log_path = self.stack.logs / "gcc-api.log"
        return sum(1 for line in _json_lines(log_path) if line.get("event") == RECORDED_EVENT)


@pytest.fixture
def rig(chaos_stack: Any, gcc_link: TcpRelay, tmp_path: Path) -> OutboxRig:
    customer = CustomerSpec(
        CUSTOMER, free_port(), 0, gcc_url=f"http://127.0.0.1:{gcc_link.listen_port}"
    )
    stack: Stack = chaos_stack(
        customers=(customer,),
        gcc_port=gcc_link.target_port,
        extra_backend_env={
            "WRKTALK_BUCKET_PROVIDER": "filesystem",
            "WRKTALK_BUCKET_ROOT": str(tmp_path / "bucket"),
            # no heartbeat or updates poll during the test: only the outbox talks to GCC
            "WRKTALK_GCC_POLL_INTERVAL": "3600",
        },
    )
    stack.credentials[CUSTOMER] = CustomerCredentials(
        api_key=api_key_of(0), webhook_secret=generate_secret()
    )
    gcc_url = stack.config.database_url("gcc")
    run_sync(lambda: insert_fleet(gcc_url, 1, now=datetime.now(UTC)))
    release_ids = run_sync(lambda: insert_releases(gcc_url.replace("+asyncpg", ""), RELEASES))
    return OutboxRig(stack, gcc_link, stack.config.customers[0], release_ids)


def test_outbox_written_while_gcc_is_down_reaches_it_once_when_it_returns(rig: OutboxRig) -> None:
    rig.start_backend()
    rig.write_reports()
    # one report per release is tried (the others of that release wait behind it) and fails
    rig.wait_outbox(lambda counts: counts["tried"] >= RELEASES, "the outbox to try GCC")

    rig.start_gcc()
    final = rig.wait_outbox(lambda counts: counts["sent"] == REPORTS, "every report sent")

    assert final["refused"] == 0
    assert rig.history_rows() == REPORTS
    assert rig.requests_recorded_by_gcc() == REPORTS
    assert final["attempts"] >= REPORTS + RELEASES
    print(f"\noutbox, GCC down: {REPORTS} reports, {final['attempts']} attempts, each once")


def test_outbox_whose_answers_are_lost_is_recorded_once_by_gcc(rig: OutboxRig) -> None:
    rig.start_gcc()
    rig.link.lose_answers()
    rig.start_backend()
    rig.write_reports()
    lost = rig.wait_outbox(lambda counts: counts["tried"] >= RELEASES, "GCC's answers lost")
    assert lost["sent"] == 0

    rig.link.deliver_answers()
    final = rig.wait_outbox(lambda counts: counts["sent"] == REPORTS, "every report sent")

    repeats = final["attempts"] - REPORTS
    assert final["refused"] == 0
    assert repeats >= RELEASES
    assert rig.link.answers_lost == repeats
    # GCC acted on every request it got, the repeats included, and recorded each report once
    assert rig.requests_recorded_by_gcc() == final["attempts"]
    assert rig.history_rows() == REPORTS
    print(
        f"\noutbox, answers lost: {REPORTS} reports, {repeats} sent again after a lost "
        f"answer, {rig.history_rows()} recorded by GCC"
    )


# --- rows ------------------------------------------------------------------------------------


async def insert_releases(dsn: str, count: int) -> list[uuid.UUID]:
    """``count`` published releases at GCC (their artifacts play no part here)."""
    now = datetime.now(UTC)
    ids = [uuid.uuid4() for _ in range(count)]
    connection = await asyncpg.connect(dsn)
    try:
        for position, release_id in enumerate(ids):
            await connection.execute(
                """
                INSERT INTO release (id, version, status, image_tags, is_forced,
                    is_migration_required, release_notes, new_non_essential_envs, created_by,
                    created_at, updated_at, published_at)
                VALUES ($1, $2, 'published', '{}', false, false, 'Outbox chaos', '[]',
                    'chaos', $3, $3, $3)
                """,
                release_id,
                f"9.{position}.0",
                now,
            )
    finally:
        await connection.close()
    return ids


async def insert_reports(dsn: str, release_ids: list[uuid.UUID]) -> None:
    """The outbox rows of ``REPORTS_PER_RELEASE`` deployments of each release."""
    now = datetime.now(UTC)
    connection = await asyncpg.connect(dsn)
    try:
        for number in range(REPORTS_PER_RELEASE):
            for position, release_id in enumerate(release_ids):
                payload = {
                    "organizationName": CUSTOMER,
                    "releaseId": str(release_id),
                    "status": "success",
                    "deployedAt": (now - timedelta(minutes=number)).isoformat(),
                    "currentVersion": f"9.{position}.0",
                }
                await connection.execute(
                    """
                    INSERT INTO gcc_outbox (id, kind, path, payload, created_at, attempts,
                        next_attempt_at)
                    VALUES ($1, 'status', '/api/v1/deployments/status', $2, $3, 0, $3)
                    """,
                    uuid.uuid4(),
                    json.dumps(payload),
                    now,
                )
    finally:
        await connection.close()


async def outbox_counts(dsn: str) -> dict[str, int]:
    connection = await asyncpg.connect(dsn)
    try:
        row = await connection.fetchrow(
            """
            SELECT count(*) FILTER (WHERE sent_at IS NOT NULL) AS sent,
                   count(*) FILTER (WHERE refused_at IS NOT NULL) AS refused,
                   count(*) FILTER (WHERE attempts > 0) AS tried,
                   coalesce(sum(attempts), 0) AS attempts
            FROM gcc_outbox
            """
        )
        assert row is not None
        return {key: int(value) for key, value in dict(row).items()}
    finally:
        await connection.close()


async def count_history(dsn: str) -> int:
    connection = await asyncpg.connect(dsn)
    try:
        return int(await connection.fetchval("SELECT count(*) FROM version_history"))
    finally:
        await connection.close()


def _json_lines(path: Path) -> Iterator[dict[str, Any]]:
    if not path.exists():
        return
    for line in path.read_text().splitlines():
        try:
            parsed = json.loads(line)
        except ValueError:
            continue
        if isinstance(parsed, dict):
            yield parsed


def _ready(base_url: str) -> bool:
    try:
        return httpx.get(f"{base_url}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
