"""Writing a delivery batch's outcomes back: bulk updates, escalations, log events."""

from __future__ import annotations

import enum
import logging
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import EscalationType
from gcc.delivery import repository, sender
from gcc.delivery.repository import FailedAttempt, ReleaseDigests, TakenTarget
from gcc.delivery.sender import AttemptResult, Outcome
from gcc.escalations.service import raise_escalation
from gcc.runtime import Runtime
from servicekit.db import session_scope
from timekeeping import Clock

log = structlog.get_logger(__name__)


class TargetState(enum.StrEnum):
    """Where an unsuccessful attempt leaves its target."""

    RETRYING = "retrying"
    """Another attempt is scheduled."""
    FAILED = "failed"
    """No attempt is left (or the webhook was not sent at all): ``webhookFailed``."""
    REJECTED = "rejected"
    """The customer answered 401: escalated, not retried."""


@dataclass(frozen=True)
class BatchReport:
    """What one batch delivery did."""

    acknowledged: int = 0
    retrying: int = 0
    failed: int = 0
    rejected: int = 0
    skipped: int = 0
    """Targets of the batch no longer due (acknowledged, failed or rescheduled meanwhile)."""


@dataclass(frozen=True)
class Refusal:
    """A target the batch did not send to, and why (not retried)."""

    target: TakenTarget
    reason: str


async def record_outcomes(
    runtime: Runtime,
    targets: dict[uuid.UUID, TakenTarget],
    releases: dict[uuid.UUID, ReleaseDigests],
    results: Sequence[AttemptResult],
    refusals: Sequence[Refusal],
) -> BatchReport:
    """Record every attempt of a batch in a few bulk statements, escalate 401s, log.

    Acknowledged webhooks are logged one by one only at DEBUG: a log line per success costs
    about as much CPU as sending it; the batch summary counts them.
    """
    settings, clock = runtime.settings, runtime.clock
    acknowledged = [result for result in results if result.outcome is Outcome.ACKNOWLEDGED]
    unsuccessful = [result for result in results if result.outcome is not Outcome.ACKNOWLEDGED]
    now = clock.now()
    failures = _failed_attempts(
        unsuccessful,
        refusals,
        retry_delay=timedelta(seconds=settings.webhook_retry_delay_seconds),
        now=now,
    )
    async with session_scope(runtime.session_factory) as session:
        await repository.record_acknowledged(
            session,
            acknowledgements=[
                (result.target_id, targets[result.target_id].organization_id, result.finished_at)
                for result in acknowledged
            ],
            now=now,
        )
        states = await repository.record_failed_attempts(
            session, failures=failures, max_attempts=settings.webhook_max_attempts, now=now
        )
        for result in unsuccessful:
            if result.outcome is Outcome.REJECTED:
                target = targets[result.target_id]
                await _escalate_rejection(session, clock, target, releases, result)

    if logging.getLogger(__name__).isEnabledFor(logging.DEBUG):
        for result in acknowledged:
            target = targets[result.target_id]
            _log_result("webhook.delivery.succeeded", target, releases, result)
    counts = _log_unsuccessful(targets, releases, unsuccessful, states)
    for refusal in refusals:
        counts[TargetState.FAILED] += 1
        _log_refusal(refusal, releases)
    return BatchReport(
        acknowledged=len(acknowledged),
        retrying=counts[TargetState.RETRYING],
        failed=counts[TargetState.FAILED],
        rejected=counts[TargetState.REJECTED],
    )


def _failed_attempts(
    unsuccessful: Sequence[AttemptResult],
    refusals: Sequence[Refusal],
    *,
    retry_delay: timedelta,
    now: datetime,
) -> list[FailedAttempt]:
    """The attempts to count as failed: those answered without a 2xx, and those never sent."""
    return [
        FailedAttempt(
            target_id=result.target_id,
            error=result.error or f"HTTP {result.status_code}",
            sent=result.outcome is not Outcome.REFUSED,
            permanent=result.outcome in (Outcome.REJECTED, Outcome.REFUSED),
            retry_at=result.finished_at + retry_delay,
        )
        for result in unsuccessful
    ] + [
        FailedAttempt(
            target_id=refusal.target.target_id,
            error=f"not sent: {refusal.reason}",
            sent=False,
            permanent=True,
            retry_at=now,
        )
        for refusal in refusals
    ]


def _log_unsuccessful(
    targets: dict[uuid.UUID, TakenTarget],
    releases: dict[uuid.UUID, ReleaseDigests],
    unsuccessful: Sequence[AttemptResult],
    states: dict[uuid.UUID, tuple[bool, int]],
) -> Counter[TargetState]:
    """Log each attempt that did not succeed; count where they left their targets."""
    counts: Counter[TargetState] = Counter()
    for result in unsuccessful:
        target = targets[result.target_id]
        is_failed, attempts = states.get(result.target_id, (True, target.webhook_attempts + 1))
        if result.outcome is Outcome.REJECTED:
            counts[TargetState.REJECTED] += 1
            _log_result("webhook.delivery.rejected", target, releases, result, attempts=attempts)
            continue
        counts[TargetState.FAILED if is_failed else TargetState.RETRYING] += 1
        _log_result(
            "webhook.delivery.failed",
            target,
            releases,
            result,
            attempts=attempts,
            will_retry=not is_failed,
        )
    return counts


def _log_refusal(refusal: Refusal, releases: dict[uuid.UUID, ReleaseDigests]) -> None:
    log.warning(
        "webhook.delivery.failed",
        target_id=str(refusal.target.target_id),
        webhook_id=refusal.target.webhook_id,
        organization=refusal.target.organization_name,
        release=_version(releases, refusal.target),
        endpoint_host=sender.endpoint_host(refusal.target.webhook_endpoint),
        reason=refusal.reason,
        will_retry=False,
    )


async def _escalate_rejection(
    session: AsyncSession,
    clock: Clock,
    target: TakenTarget,
    releases: dict[uuid.UUID, ReleaseDigests],
    result: AttemptResult,
) -> None:
    version = _version(releases, target)
    await raise_escalation(
        session,
        clock=clock,
        escalation_type=EscalationType.WEBHOOK_REJECTED,
        organization_id=target.organization_id,
        release_id=target.release_id,
        release_version=version,
        reason=(
            f"The webhook endpoint of {target.organization_name} answered 401 to release "
            f"{version}: it does not accept GCC's signature. Check that the customer backend "
            "holds the organization's current webhook secret; the release is offered by the "
            "updates poll meanwhile."
        ),
        details={
            "version": version,
            "webhookId": target.webhook_id,
            "statusCode": result.status_code,
            "endpointHost": sender.endpoint_host(target.webhook_endpoint),
            "response": result.error,
        },
    )


def _version(releases: dict[uuid.UUID, ReleaseDigests], target: TakenTarget) -> str | None:
    found = releases.get(target.release_id)
    return found.release.version if found else None


def _log_result(
    event: str,
    target: TakenTarget,
    releases: dict[uuid.UUID, ReleaseDigests],
    result: AttemptResult,
    **facts: object,
) -> None:
    method = log.debug if result.outcome is Outcome.ACKNOWLEDGED else log.warning
    method(
        event,
        target_id=str(target.target_id),
        webhook_id=target.webhook_id,
        organization=target.organization_name,
        release=_version(releases, target),
        endpoint_host=sender.endpoint_host(target.webhook_endpoint),
        status_code=result.status_code,
        duration_ms=result.duration_ms,
        error=result.error,
        **facts,
    )
