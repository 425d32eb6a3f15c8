"""Queries of the health domain: heartbeats, classification, deployment reports.

The heartbeat and the classification are written as single set-based statements: the first is
the hottest path of the API, the second runs every minute over the whole fleet.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Protocol

import asyncpg
import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import DeploymentStatus, EscalationType, HealthStatus, ReleaseStatus

ONLINE_WITHIN = timedelta(minutes=10)
DEGRADED_WITHIN = timedelta(hours=1)
OFFLINE_WITHIN = timedelta(hours=24)

# One statement authenticates and records a whole batch of heartbeats: it only touches rows
# whose key hash and name both match, so a heartbeat naming another organization changes
# nothing. It runs on the driver's (asyncpg) connection under the pooled SQLAlchemy one: on
# GCC's busiest request SQLAlchemy's statement and result layers cost more than the database
# does, and asyncpg keeps the statement prepared per connection. When one organization sends
# two heartbeats in a batch, one of them is written.
# The statement also turns synchronous_commit off for its own transaction (set_config with
# is_local): it then returns without waiting for the WAL to reach the disk, which removed the
# fsync stalls from the heartbeat's latency. A database crash can lose the last fraction of
# a second of heartbeats; the next heartbeat, minutes later, restores them, long before
# the health classification could notice the gap.
_RECORD_HEARTBEATS = """
    UPDATE organization AS o
    SET last_heartbeat_at = b.at,
        last_seen_at = greatest(b.at, o.last_webhook_ack_at),
        current_version = coalesce(b.current_version, o.current_version),
        reported_status = b.reported_status,
        agent_last_poll_at = b.agent_last_poll_at,
        health_status = 'online',
        is_online = true
    FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::text[],
                $6::timestamptz[])
         AS b(api_key_hash, name, at, current_version, reported_status, agent_last_poll_at),
         (SELECT set_config('synchronous_commit', 'off', true)) AS asynchronous_commit
    WHERE o.api_key_hash = b.api_key_hash
      AND o.name = b.name
      AND o.deleted_at IS NULL
    RETURNING o.api_key_hash, o.name
"""

_NAMES_OF_KEYS = """
    SELECT api_key_hash, name FROM organization
    WHERE api_key_hash = ANY($1::text[]) AND deleted_at IS NULL
"""


class HeartbeatRow(Protocol):
    """What a heartbeat to record carries."""

    api_key_hash: str
    name: str
    at: datetime
    current_version: str | None
    reported_status: str
    agent_last_poll_at: datetime | None


async def record_heartbeats(
    connection: asyncpg.Connection, heartbeats: Sequence[HeartbeatRow]
) -> set[tuple[str, str]]:
    """Record each heartbeat whose key hash belongs to the organization it names; the
    ``(api_key_hash, name)`` pairs recorded.

    A heartbeat makes the organization online by definition, so the health columns are set
    here too and the operator sees it without waiting for the next classification.
    """
    rows = await connection.fetch(
        _RECORD_HEARTBEATS,
        [heartbeat.api_key_hash for heartbeat in heartbeats],
        [heartbeat.name for heartbeat in heartbeats],
        [heartbeat.at for heartbeat in heartbeats],
        [heartbeat.current_version for heartbeat in heartbeats],
        [heartbeat.reported_status for heartbeat in heartbeats],
        [heartbeat.agent_last_poll_at for heartbeat in heartbeats],
    )
    return {(row[0], row[1]) for row in rows}


async def names_of_keys(
    connection: asyncpg.Connection, api_key_hashes: Sequence[str]
) -> dict[str, str]:
    """The names of the active organizations holding those keys, by key hash."""
    rows = await connection.fetch(_NAMES_OF_KEYS, list(api_key_hashes))
    return {row[0]: row[1] for row in rows}


# last_seen_at is recomputed from its two sources; rows whose classification does not change
# are left alone, so a steady fleet costs one scan and no writes. The expressions are repeated
# rather than joined from a CTE: a single pass over the table is faster than a self-join.
_SEEN_AT = "greatest(last_heartbeat_at, last_webhook_ack_at)"
_STATUS = f"""CASE
        WHEN {_SEEN_AT} IS NULL THEN 'unknown'
        WHEN {_SEEN_AT} > :online_since THEN 'online'
        WHEN {_SEEN_AT} > :degraded_since THEN 'degraded'
        WHEN {_SEEN_AT} > :offline_since THEN 'offline'
        ELSE 'critical'
    END"""
_IS_ONLINE = f"coalesce({_SEEN_AT} > :online_since, false)"
_CLASSIFY = sa.text(
    f"""
    UPDATE organization
    SET last_seen_at = {_SEEN_AT},
        health_status = {_STATUS},
        is_online = {_IS_ONLINE}
    WHERE deleted_at IS NULL
      AND (last_seen_at IS DISTINCT FROM {_SEEN_AT}
           OR health_status <> {_STATUS}
           OR is_online <> {_IS_ONLINE})
    """  # noqa: S608 - fixed SQL fragments, values are bound parameters
)


async def classify_all(session: AsyncSession, *, now: datetime) -> int:
    """Set ``last_seen_at``, ``health_status`` and ``is_online`` of every active organization;
    the number of rows that changed."""
    result = await (await session.connection()).execute(
        _CLASSIFY,
        {
            "online_since": now - ONLINE_WITHIN,
            "degraded_since": now - DEGRADED_WITHIN,
            "offline_since": now - OFFLINE_WITHIN,
        },
    )
    return result.rowcount


# Both escalation statements first materialize the targets of published forced releases that
# are not deployed and not escalated yet: in a steady fleet that set is empty, so the cost
# follows the new work, not the fleet's size. Each of those targets then looks its
# organization up by primary key ("OFFSET 0" keeps the lateral subquery from being flattened
# into a join): right after many organizations change state the planner's statistics of
# health_status are stale, and a join it plans from them can be quadratic. They
# build the dedupe key exactly as escalations.service.dedupe_key does ("TYPE:<organization
# id>:<release id>"), so an escalation raised here and one raised by a request never duplicate
# each other. The anti-join skips known keys; ON CONFLICT covers a concurrent raise.
_PENDING_FORCED = """
    WITH pending AS MATERIALIZED (
        SELECT candidate.*
        FROM (
            SELECT t.organization_id, t.status AS target_status, r.id AS release_id,
                   r.version, r.published_at,
                   CAST(:type AS text) || ':' || t.organization_id::text || ':' || r.id::text
                       AS dedupe_key
            FROM release AS r
            JOIN deployment_target AS t ON t.release_id = r.id
            WHERE r.status = :published
              AND r.is_forced
              AND t.status NOT IN ({excluded})
              {release_condition}
        ) AS candidate
        WHERE NOT EXISTS (
            SELECT 1 FROM escalation AS e WHERE e.dedupe_key = candidate.dedupe_key
        )
    )
    INSERT INTO escalation
        (id, organization_id, release_id, release_version, type, dedupe_key, reason, details,
         escalated_at)
    SELECT gen_random_uuid(), o.id, p.release_id, p.version, CAST(:type AS text), p.dedupe_key,
           {reason}, {details}, :now
    FROM pending AS p
    CROSS JOIN LATERAL (
        SELECT o.id, o.name, o.last_seen_at
        FROM organization AS o
        WHERE o.id = p.organization_id
          AND o.deleted_at IS NULL
          {organization_condition}
        OFFSET 0
    ) AS o
    ON CONFLICT (dedupe_key) DO NOTHING
"""

_RAISE_CLIENT_OFFLINE = sa.text(
    _PENDING_FORCED.format(
        excluded=":success, :rolled_back",
        release_condition="",
        organization_condition="AND o.health_status = :critical",
        reason="'Organization ' || o.name || ' has not been seen for more than 24 hours'"
        " || ' while the forced release ' || p.version || ' is pending.'",
        details="jsonb_build_object('version', p.version, 'lastSeenAt', o.last_seen_at)",
    )
)

_RAISE_FORCED_DEADLINE = sa.text(
    _PENDING_FORCED.format(
        excluded=":success",
        release_condition="AND r.published_at <= :deadline_published_before",
        organization_condition="",
        reason="'Organization ' || o.name || ' has not deployed the forced release '"
        " || p.version || ' within the deadline after it was published.'",
        details="jsonb_build_object('version', p.version, 'publishedAt', p.published_at,"
        " 'targetStatus', p.target_status)",
    )
)


async def raise_client_offline(session: AsyncSession, *, now: datetime) -> int:
    """CLIENT_OFFLINE for each critical organization and forced release pending there."""
    result = await (await session.connection()).execute(
        _RAISE_CLIENT_OFFLINE,
        {
            "type": str(EscalationType.CLIENT_OFFLINE),
            "now": now,
            "critical": str(HealthStatus.CRITICAL),
            "published": str(ReleaseStatus.PUBLISHED),
            "success": str(DeploymentStatus.SUCCESS),
            "rolled_back": str(DeploymentStatus.ROLLED_BACK),
        },
    )
    return result.rowcount


async def raise_forced_deadline_exceeded(
    session: AsyncSession, *, now: datetime, deadline: timedelta
) -> int:
    """FORCED_24H_EXCEEDED for each organization that has not deployed a forced release
    published more than ``deadline`` ago."""
    result = await (await session.connection()).execute(
        _RAISE_FORCED_DEADLINE,
        {
            "type": str(EscalationType.FORCED_24H_EXCEEDED),
            "now": now,
            "published": str(ReleaseStatus.PUBLISHED),
            "success": str(DeploymentStatus.SUCCESS),
            "deadline_published_before": now - deadline,
        },
    )
    return result.rowcount
