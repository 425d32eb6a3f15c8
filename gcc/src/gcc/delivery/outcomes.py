"""Writing a group of delivery outcomes back: bulk updates, escalations, log events."""

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
from gcc import metrics
from gcc.delivery import repository, sender
from gcc.delivery.repository import FailedAttempt, ReleaseDigests, TakenTarget
from gcc.delivery.sender import AttemptResult, Outcome
from gcc.escalations.service import raise_escalation
from gcc.runtime import Runtime
from servicekit.db import session_scope
from telemetry import trace_fields
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
    GONE = "gone"
    """The customer answered 410: escalated, not retried."""


@dataclass(frozen=True)
class DeliveryReport:
    """What a group of deliveries (or a whole pump run) did."""

    acknowledged: int = 0
    retrying: int = 0
    failed: int = 0
    rejected: int = 0
    gone: int = 0

    @property
    def total(self) -> int:
        """Targets handled."""
        return self.acknowledged + self.retrying + self.failed + self.rejected + self.gone

    def __add__(self, other: DeliveryReport) -> DeliveryReport:
        return DeliveryReport(
            acknowledged=self.acknowledged + other.acknowledged,
            retrying=self.retrying + other.retrying,
            failed=self.failed + other.failed,
            rejected=self.rejected + other.rejected,
            gone=self.gone + other.gone,
        )


@dataclass(frozen=True)
class Refusal:
    """A target the pump did not send to, and why (not retried)."""

    target: TakenTarget
    reason: str


async def record_outcomes(
    runtime: Runtime,
    targets: dict[uuid.UUID, TakenTarget],
    releases: dict[uuid.UUID, ReleaseDigests],
    results: Sequence[AttemptResult],
    refusals: Sequence[Refusal],
) -> DeliveryReport:
    """Record a group of attempts in a few bulk statements, escalate 401s and 410s, log.

    Acknowledged webhooks are logged one by one only at DEBUG: a log line per success costs
    about as much CPU as sending it; the pump's summary counts them.
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
            if result.outcome in (Outcome.REJECTED, Outcome.GONE):
                target = targets[result.target_id]
                await _escalate(session, clock, target, releases, result)
            elif states.get(result.target_id, (False, 0))[0]:
                # the last attempt failed: the target is webhookFailed, a person should know
                await _escalate_exhausted(
                    session, clock, targets[result.target_id], releases, result
                )

    if logging.getLogger(__name__).isEnabledFor(logging.DEBUG):
        for result in acknowledged:
            target = targets[result.target_id]
            _log_result("webhook.delivery.succeeded", target, releases, result)
    counts = _log_unsuccessful(targets, releases, unsuccessful, states)
    for refusal in refusals:
        counts[TargetState.FAILED] += 1
        _log_refusal(refusal, releases)
    return DeliveryReport(
        acknowledged=len(acknowledged),
        retrying=counts[TargetState.RETRYING],
        failed=counts[TargetState.FAILED],
        rejected=counts[TargetState.REJECTED],
        gone=counts[TargetState.GONE],
    )


def _failed_attempts(
    unsuccessful: Sequence[AttemptResult],
    refusals: Sequence[Refusal],
    *,
    retry_delay: timedelta,
    now: datetime,
) -> list[FailedAttempt]:
    """The attempts to count as failed: those answered without a 2xx, and those never sent.

    The next attempt waits ``retry_delay``, or as long as the receiver's ``Retry-After``
    asked (already capped at an hour by the sender).
    """
    return [
        FailedAttempt(
            target_id=result.target_id,
            error=result.error or f"HTTP {result.status_code}",
            sent=result.outcome is not Outcome.REFUSED,
            permanent=result.outcome in _PERMANENT,
            retry_at=result.finished_at
            + (
                retry_delay
                if result.retry_after_seconds is None
                else timedelta(seconds=result.retry_after_seconds)
            ),
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


_PERMANENT = frozenset({Outcome.REJECTED, Outcome.GONE, Outcome.REFUSED})
"""Outcomes after which a target is not tried again."""


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
        if result.outcome is Outcome.GONE:
            counts[TargetState.GONE] += 1
            _log_result("webhook.delivery.gone", target, releases, result, attempts=attempts)
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


async def _escalate(
    session: AsyncSession,
    clock: Clock,
    target: TakenTarget,
    releases: dict[uuid.UUID, ReleaseDigests],
    result: AttemptResult,
) -> None:
    """Escalate a 401 (``WEBHOOK_REJECTED``) or a 410 (``WEBHOOK_GONE``)."""
    version = _version(releases, target)
    gone = result.outcome is Outcome.GONE
    if gone:
        reason = (
            f"The webhook endpoint of {target.organization_name} answered 410 to release "
            f"{version}: it asks GCC to stop sending to it. Check the organization's webhook "
            "endpoint with the customer; the release is offered by the updates poll meanwhile."
        )
    else:
        reason = (
            f"The webhook endpoint of {target.organization_name} answered 401 to release "
            f"{version}: it does not accept GCC's signature. Check that the customer backend "
            "holds the organization's current webhook secret; the release is offered by the "
            "updates poll meanwhile."
        )
    await raise_escalation(
        session,
        clock=clock,
        escalation_type=EscalationType.WEBHOOK_GONE if gone else EscalationType.WEBHOOK_REJECTED,
        organization_id=target.organization_id,
        release_id=target.release_id,
        release_version=version,
        reason=reason,
        details={
            "version": version,
            "webhookId": target.webhook_id,
            "statusCode": result.status_code,
            "endpointHost": sender.endpoint_host(target.webhook_endpoint),
            "response": result.error,
        },
    )


async def _escalate_exhausted(
    session: AsyncSession,
    clock: Clock,
    target: TakenTarget,
    releases: dict[uuid.UUID, ReleaseDigests],
    result: AttemptResult,
) -> None:
    """Escalate a webhook whose every attempt failed (``WEBHOOK_FAILED``)."""
    version = _version(releases, target)
    await raise_escalation(
        session,
        clock=clock,
        escalation_type=EscalationType.WEBHOOK_FAILED,
        organization_id=target.organization_id,
        release_id=target.release_id,
        release_version=version,
        reason=(
            f"The webhook of release {version} to {target.organization_name} failed every "
            f"attempt; the last answer: {result.error or 'none'}. The customer backend takes "
            "the release from its next poll of GCC."
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
        organization_id=str(target.organization_id),
        organization=target.organization_name,
        release_id=str(target.release_id),
        release=_version(releases, target),
        endpoint_host=sender.endpoint_host(target.webhook_endpoint),
        status_code=result.status_code,
        duration_ms=result.duration_ms,
        error=result.error,
        **trace_fields(result.trace_parent),
        **facts,
    )


def count_deliveries(report: DeliveryReport, results: Sequence[AttemptResult]) -> None:
    """Move the delivery counters by a group's outcomes and its answers' latencies."""
    for outcome, count in (
        ("acknowledged", report.acknowledged),
        ("retrying", report.retrying),
        ("failed", report.failed),
        ("rejected", report.rejected),
        ("gone", report.gone),
    ):
        if count:
            metrics.WEBHOOK_DELIVERIES.labels(outcome).inc(count)
    for result in results:
        metrics.WEBHOOK_DELIVERY_DURATION.observe(result.duration_ms / 1000)
