"""Organization health: heartbeats in, classification of the whole fleet each minute."""

from __future__ import annotations

from dataclasses import dataclass

import structlog
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import OrganizationHeartbeat
from gcc import metrics
from gcc.health import repository
from gcc.health.heartbeats import HeartbeatOutcome, HeartbeatRecorder
from gcc.security import hash_api_key
from gcc.settings import Settings
from servicekit.errors import Forbidden, Unauthorized
from timekeeping import Clock

log = structlog.get_logger(__name__)


async def record_heartbeat(
    recorder: HeartbeatRecorder,
    *,
    clock: Clock,
    api_key: str,
    name: str,
    heartbeat: OrganizationHeartbeat,
) -> None:
    """Authenticate the key and record the heartbeat of organization ``name``.

    The key is checked by the statement that records the heartbeat, which matches the key's
    hash and the name together (see :mod:`gcc.health.heartbeats`); an unknown key raises
    Unauthorized, another organization's key Forbidden. The time recorded is the clock's,
    not the sender's ``timestamp``: a customer's clock may be wrong, and health must not
    depend on it.
    """
    outcome = await recorder.record(
        api_key_hash=hash_api_key(api_key),
        name=name,
        at=clock.now(),
        current_version=str(heartbeat.version) if heartbeat.version is not None else None,
        reported_status=str(heartbeat.status),
        agent_last_poll_at=heartbeat.agent_last_poll,
    )
    if outcome is HeartbeatOutcome.UNKNOWN_KEY:
        raise Unauthorized("The API key is not valid.")
    if outcome is HeartbeatOutcome.OTHER_ORGANIZATION:
        raise Forbidden("This API key does not open that organization.", field="name")
    metrics.HEARTBEATS.inc()


@dataclass(frozen=True)
class Classification:
    """What one classification run changed."""

    organizations_changed: int
    client_offline_raised: int
    forced_deadline_raised: int
    client_offline_resolved: int = 0


async def classify_health(
    session: AsyncSession, *, clock: Clock, settings: Settings
) -> Classification:
    """Classify every organization from ``lastSeen`` and raise the escalations that follow.

    Online under 10 minutes, degraded under 1 hour, offline under 24 hours, critical beyond,
    unknown when never seen or when the backend sends no heartbeats (``heartbeatEnabled``
    off). Then, set-based: CLIENT_OFFLINE once per offline period of a critical organization
    (resolved once it is seen again), and FORCED_24H_EXCEEDED once per organization and
    forced release not deployed ``settings.forced_deadline`` after it was published. New
    escalations are emailed by ``escalations.notify_new``.
    """
    now = clock.now()
    changed = await repository.classify_all(session, now=now)
    resolved = await repository.resolve_client_offline(session, now=now)
    offline = await repository.raise_client_offline(session, now=now)
    overdue = await repository.raise_forced_deadline_exceeded(
        session, now=now, deadline=settings.forced_deadline
    )
    log.info(
        "health.classify.succeeded",
        organizations_changed=changed,
        client_offline_raised=offline,
        client_offline_resolved=resolved,
        forced_deadline_raised=overdue,
    )
    return Classification(changed, offline, overdue, resolved)
