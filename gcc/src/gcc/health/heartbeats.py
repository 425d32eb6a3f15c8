"""Recording heartbeats in batches: one statement for every heartbeat that arrives meanwhile.

Heartbeats are GCC's busiest request (a whole fleet, every few minutes). Each request hands
its heartbeat to the process's :class:`HeartbeatRecorder` and waits for the outcome. When no
flush is running, the recorder starts one; heartbeats that arrive while a flush is running
wait for the next one, on the same connection. At low load every flush holds one heartbeat,
so it costs what a statement per request would; under load a flush takes many, which saves a
pool checkout, a round trip and a commit for each of them. Each heartbeat is answered only
after the statement holding it has committed.
"""

from __future__ import annotations

import asyncio
import enum
from dataclasses import dataclass, field
from datetime import datetime

import asyncpg
import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from gcc.health import repository

log = structlog.get_logger(__name__)

MAX_BATCH = 500
DEADLOCK_ATTEMPTS = 3
ROW_ERRORS = (asyncpg.DataError, asyncpg.IntegrityConstraintViolationError)
"""Errors caused by one row's values (SQLSTATE classes 22 and 23), not by the batch."""


class HeartbeatOutcome(enum.Enum):
    """What became of one heartbeat."""

    RECORDED = "recorded"
    UNKNOWN_KEY = "unknown_key"
    """No active organization holds the key."""
    OTHER_ORGANIZATION = "other_organization"
    """The key belongs to another organization than the one named."""


@dataclass
class PendingHeartbeat:
    """One heartbeat waiting for its flush."""

    api_key_hash: str
    name: str
    at: datetime
    current_version: str | None
    reported_status: str
    agent_last_poll_at: datetime | None
    outcome: asyncio.Future[HeartbeatOutcome] = field(repr=False)


class HeartbeatRecorder:
    """Writes the heartbeats of one process, batching those that arrive together."""

    def __init__(self, engine: AsyncEngine, *, max_batch: int = MAX_BATCH) -> None:
        """Use ``engine``'s pool for the flushes."""
        self._engine = engine
        self._max_batch = max_batch
        self._pending: list[PendingHeartbeat] = []
        self._flusher: asyncio.Task[None] | None = None

    async def record(
        self,
        *,
        api_key_hash: str,
        name: str,
        at: datetime,
        current_version: str | None,
        reported_status: str,
        agent_last_poll_at: datetime | None,
    ) -> HeartbeatOutcome:
        """Record one heartbeat; returns once the statement holding it has committed."""
        outcome: asyncio.Future[HeartbeatOutcome] = asyncio.get_running_loop().create_future()
        self._pending.append(
            PendingHeartbeat(
                api_key_hash=api_key_hash,
                name=name,
                at=at,
                current_version=current_version,
                reported_status=reported_status,
                agent_last_poll_at=agent_last_poll_at,
                outcome=outcome,
            )
        )
        if self._flusher is None or self._flusher.done():
            # a task of its own: a request that goes away must not strand the others' flush
            self._flusher = asyncio.create_task(self._flush_pending())
        return await outcome

    async def _flush_pending(self) -> None:
        """Flush until nothing is pending, on one pooled connection for as long as heartbeats
        keep coming (a checkout per flush would cost more than the flush)."""
        while self._pending:
            try:
                async with self._engine.connect() as connection:
                    raw = await connection.get_raw_connection()
                    driver: asyncpg.Connection = raw.driver_connection
                    try:
                        await self._flush_batches(driver)
                    finally:
                        if driver.is_closed():
                            # lost while in use: SQLAlchemy did not see it, so tell its pool
                            await connection.invalidate()
            except Exception as exc:
                log.warning(
                    "health.heartbeat.flush_failed", size=len(self._pending), error=repr(exc)
                )
                failed, self._pending = self._pending, []
                _fail(failed, exc)

    async def _flush_batches(self, driver: asyncpg.Connection) -> None:
        # The driver connection is used outside any transaction: each statement commits by
        # itself, no BEGIN and COMMIT round trips.
        while self._pending and not driver.is_closed():
            batch = self._pending[: self._max_batch]
            del self._pending[: self._max_batch]
            await self._flush_isolating(driver, batch)

    async def _flush_isolating(
        self, driver: asyncpg.Connection, batch: list[PendingHeartbeat]
    ) -> None:
        """Flush ``batch`` and answer each of its heartbeats.

        A value the database refuses (too long, out of range) fails the whole statement, which
        committed nothing: each half of the batch is then flushed on its own, and so on down
        to the heartbeat at fault, so that one organization's bad heartbeat never fails the
        others'. Any other error (a lost connection, a timeout) fails the batch as it is.
        """
        try:
            outcomes = await self._flush(driver, batch)
        except ROW_ERRORS as exc:
            if len(batch) == 1 or driver.is_closed():
                log.warning("health.heartbeat.refused", size=len(batch), error=repr(exc))
                _fail(batch, exc)
                return
            log.info("health.heartbeat.batch_split", size=len(batch), error=repr(exc))
            middle = len(batch) // 2
            await self._flush_isolating(driver, batch[:middle])
            await self._flush_isolating(driver, batch[middle:])
            return
        except Exception as exc:
            log.warning("health.heartbeat.flush_failed", size=len(batch), error=repr(exc))
            _fail(batch, exc)
            return
        for heartbeat, outcome in zip(batch, outcomes, strict=True):
            if not heartbeat.outcome.done():
                heartbeat.outcome.set_result(outcome)

    async def _flush(
        self, driver: asyncpg.Connection, batch: list[PendingHeartbeat]
    ) -> list[HeartbeatOutcome]:
        recorded = await self._record(driver, batch)
        missing = {
            heartbeat.api_key_hash
            for heartbeat in batch
            if (heartbeat.api_key_hash, heartbeat.name) not in recorded
        }
        owners = await repository.names_of_keys(driver, sorted(missing)) if missing else {}
        return [_outcome(heartbeat, recorded, owners) for heartbeat in batch]

    async def _record(
        self, driver: asyncpg.Connection, batch: list[PendingHeartbeat]
    ) -> set[tuple[str, str]]:
        for attempt in range(1, DEADLOCK_ATTEMPTS + 1):
            try:
                return await repository.record_heartbeats(driver, batch)
            except asyncpg.DeadlockDetectedError:
                # two processes' batches holding the same organizations locked in another
                # order (one organization sending twice at once): PostgreSQL cancelled one
                # statement, which committed nothing, so it is simply sent again
                if attempt == DEADLOCK_ATTEMPTS:
                    raise
                log.info("health.heartbeat.deadlock_retried", size=len(batch), attempt=attempt)
        raise AssertionError("unreachable")


def _fail(heartbeats: list[PendingHeartbeat], exc: Exception) -> None:
    for heartbeat in heartbeats:
        if not heartbeat.outcome.done():
            heartbeat.outcome.set_exception(exc)


def _outcome(
    heartbeat: PendingHeartbeat, recorded: set[tuple[str, str]], owners: dict[str, str]
) -> HeartbeatOutcome:
    if (heartbeat.api_key_hash, heartbeat.name) in recorded:
        return HeartbeatOutcome.RECORDED
    owner = owners.get(heartbeat.api_key_hash)
    if owner is None:
        return HeartbeatOutcome.UNKNOWN_KEY
    return HeartbeatOutcome.OTHER_ORGANIZATION
