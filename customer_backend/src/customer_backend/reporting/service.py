"""Reports to GCC go through an outbox: written with the change, sent until GCC accepts.

A report is a row written in the same transaction as the change it describes, so GCC hears of
every committed change and of nothing that rolled back. ``reporting.flush_outbox`` sends the
rows oldest first; the reports about one release go strictly in order (a failure holds back the
later ones of that release). GCC's answer decides what happens to a row:

- 2xx: accepted (``sent_at``);
- 408, 429, 5xx, a network error, and 401/403 (a key or organization name the operator will
  fix): tried again later, backing off exponentially up to 10 minutes;
- any other 4xx: GCC refused the report itself (unknown release, invalid body); sending the
  same bytes again cannot succeed, so it is logged and closed as refused (``refused_at``,
  GCC's answer in ``last_error``) instead of blocking the reports behind it forever.

The heartbeat is not queued: only the latest one matters, and beat sends the next one anyway.

With GCC out of reach, a report waits with the rest of its release's, tried again with backoff
(a warning each time, never an error, never dropped). An air-gapped backend
(``WRKTALK_AIR_GAPPED``) sends nothing at all: reports are kept, the Control Tower's Overview
counts them (:func:`outbox_backlog`), and they go out in order once the setting is off again.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import httpx
import structlog
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import (
    DeploymentScheduledReport,
    DeploymentStatusReport,
    HeartbeatStatus,
    OrganizationHeartbeat,
    Version,
)
from customer_backend.installation import service as installation
from customer_backend.reporting import repository
from customer_backend.reporting.models import GccOutboxMessage, OutboxKind
from logconfig import log_context
from servicekit.db import after_commit, session_scope
from servicekit.runtime import SendTask
from telemetry import SpanKind, StatusCode, current_traceparent, inject_traceparent, span
from timekeeping import Clock

if TYPE_CHECKING:
    # the runtime builds on the deployments domain, which queues reports through this module
    from customer_backend.runtime import Runtime

log = structlog.get_logger(__name__)

SCHEDULED_PATH = "/api/v1/deployments/scheduled"
STATUS_PATH = "/api/v1/deployments/status"
FLUSH_TASK = "reporting.flush_outbox"
OUTBOX_BACKOFF_BASE = timedelta(seconds=15)
OUTBOX_BACKOFF_CAP = timedelta(minutes=10)
OUTBOX_BATCH = 200

_RETRYABLE_CLIENT_ERRORS = frozenset({401, 403, 408, 429})
_FLUSH_QUEUED_KEY = "reporting.flush_queued"
_ERROR_PREVIEW = 500


async def enqueue_report(
    session: AsyncSession,
    *,
    clock: Clock,
    report: DeploymentScheduledReport | DeploymentStatusReport,
    send_task: SendTask | None = None,
    trace_parent: str | None = None,
) -> GccOutboxMessage:
    """Add a scheduled or status report to the outbox (sent by ``reporting.flush_outbox``).

    With ``send_task``, a flush is also sent once the session commits (once per transaction),
    so GCC hears of the change at once instead of at the next beat. The message keeps
    ``trace_parent`` (a deployment's, so the report joins its release's trace) or else the
    current span's ``traceparent``; its sending continues that trace.
    """
    is_status = isinstance(report, DeploymentStatusReport)
    message = GccOutboxMessage(
        kind=OutboxKind.STATUS if is_status else OutboxKind.SCHEDULED,
        path=STATUS_PATH if is_status else SCHEDULED_PATH,
        payload=report.model_dump(mode="json"),
        created_at=clock.now(),
        next_attempt_at=clock.now(),
        trace_parent=trace_parent or current_traceparent(),
    )
    session.add(message)
    await session.flush()
    if send_task is not None and not session.info.get(_FLUSH_QUEUED_KEY):
        session.info[_FLUSH_QUEUED_KEY] = True
        after_commit(session, lambda: _send_flush(session, send_task))
    return message


def _send_flush(session: AsyncSession, send_task: SendTask) -> None:
    session.info.pop(_FLUSH_QUEUED_KEY, None)
    send_task(FLUSH_TASK)


class Delivery(enum.StrEnum):
    """What happened to one outbox message in a flush."""

    SENT = "sent"
    REFUSED = "refused"
    FAILED = "failed"


@dataclass
class FlushOutcome:
    """Counts of one flush; ``held`` are messages waiting for their time or an earlier one."""

    sent: int = 0
    refused: int = 0
    failed: int = 0
    held: int = 0
    skipped_running: bool = False
    kept_air_gapped: bool = False
    errors: list[str] = field(default_factory=list)


def backoff(attempts: int) -> timedelta:
    """Wait after the ``attempts``-th failed send: 15 s doubling, at most 10 minutes."""
    exponent = min(max(attempts - 1, 0), 16)
    return min(OUTBOX_BACKOFF_BASE * (1 << exponent), OUTBOX_BACKOFF_CAP)


async def flush_outbox(*, runtime: Runtime, limit: int = OUTBOX_BATCH) -> FlushOutcome:
    """Send due outbox messages to GCC, oldest first, in order within each release.

    One flush runs at a time (an advisory lock); a flush that finds another running returns
    at once, the running one or the next beat sends what it would have.
    """
    outcome = FlushOutcome()
    if runtime.settings.air_gapped:
        outcome.kept_air_gapped = True
        log.debug("reporting.outbox.kept", reason="air_gapped")
        return outcome
    async with runtime.session_factory() as lock_session, lock_session.begin():
        if not await repository.try_outbox_lock(lock_session):
            outcome.skipped_running = True
            return outcome
        async with session_scope(runtime.session_factory) as session:
            messages = await repository.unfinished_messages(session, limit=limit)
        held_streams: set[str] = set()
        for message in messages:
            stream = str(message.payload.get("releaseId") or message.id)
            if stream in held_streams or message.next_attempt_at > runtime.clock.now():
                held_streams.add(stream)
                outcome.held += 1
                continue
            delivery = await _deliver(runtime, message, outcome)
            if delivery is Delivery.FAILED:
                held_streams.add(stream)
    if outcome.sent or outcome.refused or outcome.failed:
        log.info(
            "reporting.outbox.flushed",
            sent=outcome.sent,
            refused=outcome.refused,
            failed=outcome.failed,
            held=outcome.held,
        )
    return outcome


async def _deliver(runtime: Runtime, message: GccOutboxMessage, outcome: FlushOutcome) -> Delivery:
    """Send one message, in a ``report.send`` span under the one that wrote it, and record
    GCC's answer in its own transaction."""
    with (
        span(
            "report.send",
            parent=message.trace_parent,
            kind=SpanKind.CLIENT,
            attributes={"wrktalk.report_kind": message.kind},
        ) as current,
        log_context(report_id=message.id, report_kind=message.kind),
    ):
        delivery = await _send_and_record(runtime, message, outcome)
        if delivery is not Delivery.SENT:
            current.set_status(StatusCode.ERROR, str(delivery))
        return delivery


async def _send_and_record(
    runtime: Runtime, message: GccOutboxMessage, outcome: FlushOutcome
) -> Delivery:
    error: str
    headers: dict[str, str] = {}
    inject_traceparent(headers)
    try:
        response = await runtime.gcc.post(message.path, json=message.payload, headers=headers)
    except httpx.HTTPError as exc:
        delivery, error = Delivery.FAILED, f"GCC unreachable: {exc!r}"
    else:
        if response.is_success:
            delivery, error = Delivery.SENT, ""
        elif response.status_code < 500 and response.status_code not in _RETRYABLE_CLIENT_ERRORS:
            delivery = Delivery.REFUSED
            error = f"GCC refused with {response.status_code}: {response.text[:_ERROR_PREVIEW]}"
        else:
            delivery = Delivery.FAILED
            error = f"GCC answered {response.status_code}: {response.text[:_ERROR_PREVIEW]}"
    now = runtime.clock.now()
    async with session_scope(runtime.session_factory) as session:
        if delivery is Delivery.SENT:
            await repository.mark_sent(session, message_id=message.id, now=now)
            outcome.sent += 1
        elif delivery is Delivery.REFUSED:
            await repository.mark_refused(session, message_id=message.id, now=now, error=error)
            outcome.refused += 1
            log.error(
                "reporting.outbox.refused",
                message_id=str(message.id),
                path=message.path,
                error=error,
            )
        else:
            next_attempt_at = now + backoff(message.attempts + 1)
            await repository.mark_failed(
                session, message_id=message.id, next_attempt_at=next_attempt_at, error=error
            )
            outcome.failed += 1
            log.warning(
                "reporting.outbox.send_failed",
                message_id=str(message.id),
                path=message.path,
                attempts=message.attempts + 1,
                next_attempt_at=next_attempt_at.isoformat(),
                error=error,
            )
    if error:
        outcome.errors.append(error)
    return delivery


@dataclass(frozen=True)
class OutboxBacklog:
    """The reports to GCC not sent yet: how many, the oldest's time, the last error."""

    count: int
    oldest_at: datetime | None
    last_error: str | None


async def outbox_backlog(session: AsyncSession) -> OutboxBacklog:
    """What waits in the outbox (kept while air-gapped, or while GCC is out of reach)."""
    count, oldest_at, last_error = await repository.backlog(session)
    return OutboxBacklog(count=count, oldest_at=oldest_at, last_error=last_error)


def heartbeat_status(*, agent_last_poll: datetime | None, now: datetime) -> HeartbeatStatus:
    """``healthy`` while the agent polls, ``degraded`` once it has been silent 10 minutes."""
    if installation.is_agent_offline(last_poll_at=agent_last_poll, now=now):
        return HeartbeatStatus.DEGRADED
    return HeartbeatStatus.HEALTHY


async def send_heartbeat(*, runtime: Runtime) -> OrganizationHeartbeat | None:
    """Tell GCC this installation is alive, what it runs and when the agent last polled.

    Returns the heartbeat GCC accepted, or None when it did not (the next beat sends again)
    or when heartbeats are switched off (``WRKTALK_HEARTBEAT_ENABLED``; the updates poll tells
    GCC so, and GCC shows this installation as ``unknown`` rather than offline).
    """
    if not runtime.settings.heartbeat_enabled or runtime.settings.air_gapped:
        reason = "air_gapped" if runtime.settings.air_gapped else "heartbeat_disabled"
        log.info("reporting.heartbeat.skipped", reason=reason)
        return None
    now = runtime.clock.now()
    async with session_scope(runtime.session_factory) as session:
        state = await installation.installation_state(session)
    agent_last_poll = state.last_agent_poll_at if state is not None else None
    version_text = state.current_version if state is not None else None
    heartbeat = OrganizationHeartbeat(
        version=Version.parse(version_text) if version_text else None,
        status=heartbeat_status(agent_last_poll=agent_last_poll, now=now),
        agent_last_poll=agent_last_poll,
        timestamp=now,
    )
    path = f"/api/v1/organizations/{runtime.settings.organization_name}/heartbeat"
    try:
        response = await runtime.gcc.post(path, json=heartbeat.model_dump(mode="json"))
    except httpx.HTTPError as error:
        log.warning("reporting.heartbeat.failed", error=repr(error))
        return None
    if not response.is_success:
        log.warning(
            "reporting.heartbeat.failed",
            status=response.status_code,
            body=response.text[:_ERROR_PREVIEW],
        )
        return None
    async with session_scope(runtime.session_factory) as session:
        await installation.record_heartbeat(session, now=now)
    log.info("reporting.heartbeat.sent", status=str(heartbeat.status), version=version_text)
    return heartbeat
