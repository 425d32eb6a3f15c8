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
        is_online = true,
        heartbeat_enabled = true
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
        WHEN NOT heartbeat_enabled OR {_SEEN_AT} IS NULL THEN 'unknown'
        WHEN {_SEEN_AT} > :online_since THEN 'online'
        WHEN {_SEEN_AT} > :degraded_since THEN 'degraded'
        WHEN {_SEEN_AT} > :offline_since THEN 'offline'
        ELSE 'critical'
    END"""
_IS_ONLINE = f"(heartbeat_enabled AND coalesce({_SEEN_AT} > :online_since, false))"
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


# The forced-deadline statement first materializes the targets of published forced releases
# that are not deployed and not escalated yet: in a steady fleet that set is empty, so the cost
# follows the new work, not the fleet's size. Each of those targets then looks its
# organization up by primary key ("OFFSET 0" keeps the lateral subquery from being flattened
# into a join): right after many organizations change state the planner's statistics of
# health_status are stale, and a join it plans from them can be quadratic. It
# builds the dedupe key exactly as escalations.service.dedupe_key does ("TYPE:<organization
# id>:<release id>"), so an escalation raised here and one raised by a request never duplicate
# each other. The anti-join skips known keys; ON CONFLICT covers a concurrent raise.
_PENDING_FORCED = """
    WITH pending AS MATERIALIZED (
        SELECT candidate.*
        FROM (
            SELECT t.organization_id, t.status AS target_status, r.id AS release_id,
                   r.version, r.published_at, t.wave_notified_at AS notified_at,
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

_RAISE_FORCED_DEADLINE = sa.text(
    _PENDING_FORCED.format(
        excluded=":success",
        # In a phased rollout each organization's deadline counts from its own wave's
        # notification (a waiting wave's null never passes); otherwise from the publication.
        release_condition="AND CASE WHEN EXISTS (SELECT 1 FROM rollout WHERE release_id = r.id)"
        " THEN t.wave_notified_at ELSE r.published_at END <= :deadline_published_before",
        organization_condition="",
        reason="'Organization ' || o.name || ' has not deployed the forced release '"
        " || p.version || ' within the deadline after it was notified of it.'",
        details="jsonb_build_object('version', p.version, 'publishedAt', p.published_at,"
        " 'notifiedAt', p.notified_at, 'targetStatus', p.target_status)",
    )
)


# CLIENT_OFFLINE is raised once per offline period of a critical organization (spec error 2.1):
# the period is named by the last time the organization was seen, which stays the same while
# it is silent and moves when it is seen again. The dedupe key carries that time, so neither
# the next run nor an operator's resolution during the same silence raises it again; a new
# silence after the organization came back raises a new one. Critical organizations are few,
# so listing the forced releases pending at each costs nothing in a steady fleet.
_RAISE_CLIENT_OFFLINE = sa.text(
    """
    INSERT INTO escalation
        (id, organization_id, type, dedupe_key, reason, details, escalated_at)
    SELECT gen_random_uuid(), o.id, CAST(:type AS text),
           CAST(:type AS text) || ':' || o.id::text || ':'
               || to_char(o.last_seen_at AT TIME ZONE 'UTC', 'YYYYMMDD"T"HH24MISS.US'),
           'Organization ' || o.name || ' has not been seen for more than 24 hours'
               || CASE WHEN forced.versions IS NULL THEN '.'
                       ELSE ' while the forced release '
                            || array_to_string(forced.versions, ', ') || ' is pending.'
                  END,
           jsonb_build_object(
               'lastSeenAt', o.last_seen_at,
               'pendingForcedVersions', to_jsonb(coalesce(forced.versions, ARRAY[]::text[]))
           ),
           :now
    FROM organization AS o
    CROSS JOIN LATERAL (
        SELECT array_agg(r.version::text ORDER BY r.published_at) AS versions
        FROM deployment_target AS t
        JOIN release AS r ON r.id = t.release_id
        WHERE t.organization_id = o.id
          AND r.status = :published
          AND r.is_forced
          AND t.status NOT IN (:success, :rolled_back)
    ) AS forced
    WHERE o.deleted_at IS NULL
      AND o.health_status = :critical
      AND o.last_seen_at IS NOT NULL
    ON CONFLICT (dedupe_key) DO NOTHING
    """
)

# A heartbeat marks its organization online at once, so the classification after the
# heartbeats return closes the escalation; an acknowledged webhook counts as being seen too.
_RESOLVE_CLIENT_OFFLINE = sa.text(
    """
    UPDATE escalation AS e
    SET resolved_at = :now,
        resolution = 'Seen again at '
            || to_char(o.last_seen_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
            || ': the organization is ' || o.health_status || '.'
    FROM organization AS o
    WHERE e.organization_id = o.id
      AND e.type = :type
      AND e.resolved_at IS NULL
      AND o.health_status IN (:online, :degraded, :offline)
    """
)


async def raise_client_offline(session: AsyncSession, *, now: datetime) -> int:
    """CLIENT_OFFLINE for each critical organization, once per offline period."""
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


async def resolve_client_offline(session: AsyncSession, *, now: datetime) -> int:
    """Resolve the open CLIENT_OFFLINE escalations of organizations seen again within 24
    hours; how many were resolved."""
    result = await (await session.connection()).execute(
        _RESOLVE_CLIENT_OFFLINE,
        {
            "type": str(EscalationType.CLIENT_OFFLINE),
            "now": now,
            "online": str(HealthStatus.ONLINE),
            "degraded": str(HealthStatus.DEGRADED),
            "offline": str(HealthStatus.OFFLINE),
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
