"""Webhook fan-out: hand due targets out in batches, deliver each batch concurrently.

The due time of every delivery lives in PostgreSQL (``next_attempt_at``), never in a Celery
countdown. ``dispatch_due`` (run by beat, and right after a release is published) leases the
due targets and enqueues one ``delivery.deliver_batch`` task per batch. A batch task sends its
webhooks concurrently and writes the outcomes back in a few bulk statements. A worker killed
in the middle of a batch loses nothing: the lease of its targets runs out and the next
``dispatch_due`` hands them out again, with the same ``webhook-id``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import structlog
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import RedeliveryResponse, ReleaseStatus, Version
from gcc.delivery import outcomes, repository, sender
from gcc.delivery.outcomes import BatchReport, Refusal
from gcc.delivery.repository import ReleaseDigests, TakenTarget
from gcc.delivery.sender import WebhookRequest
from gcc.organizations import service as organization_service
from gcc.releases import service as release_service
from gcc.releases.webhook_body import build_webhook_body
from gcc.runtime import Runtime
from gcc.settings import Settings
from servicekit.db import after_commit, session_scope
from servicekit.errors import Conflict, NotFound
from timekeeping import Clock

log = structlog.get_logger(__name__)

DISPATCH_DUE_TASK = "delivery.dispatch_due"
"""The Celery task that leases due targets and enqueues their batches (beat runs it)."""
DELIVER_BATCH_TASK = "delivery.deliver_batch"
"""The Celery task that delivers one batch of leased targets."""
MAX_TARGETS_PER_DISPATCH = 50_000
"""Targets leased by one dispatch run. Beat runs every few seconds, so a bigger fan-out is
handed out over a few runs instead of leasing more than one worker drains within a lease."""


async def dispatch_due(
    session: AsyncSession, *, clock: Clock, settings: Settings
) -> list[list[uuid.UUID]]:
    """Lease every due target and return their ids in batches of ``delivery_batch_size``.

    Due: not acknowledged, not failed, ``next_attempt_at`` reached, and not leased (or the
    lease ran out, as when the worker holding it died). The claim is one ``UPDATE`` over a
    ``FOR UPDATE SKIP LOCKED`` selection, so concurrent dispatchers never hand a target out
    twice. Targets of one release are batched together so a batch builds one webhook body.
    """
    now = clock.now()
    claimed = await repository.claim_due_targets(
        session,
        now=now,
        lease_until=now + timedelta(seconds=settings.delivery_lease_seconds),
        limit=MAX_TARGETS_PER_DISPATCH,
    )
    by_release: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    for target_id, release_id in claimed:
        by_release[release_id].append(target_id)
    size = settings.delivery_batch_size
    batches = [
        target_ids[start : start + size]
        for target_ids in by_release.values()
        for start in range(0, len(target_ids), size)
    ]
    if claimed:
        log.info("webhook.dispatch.completed", targets=len(claimed), batches=len(batches))
    return batches


async def run_dispatch(runtime: Runtime) -> int:
    """Lease the due targets and enqueue one delivery task per batch once the lease commits.

    Returns the number of batches enqueued.
    """
    async with session_scope(runtime.session_factory) as session:
        batches = await dispatch_due(session, clock=runtime.clock, settings=runtime.settings)
        for batch in batches:
            after_commit(
                session,
                functools.partial(
                    runtime.send_task, DELIVER_BATCH_TASK, [str(target_id) for target_id in batch]
                ),
            )
    return len(batches)


async def redeliver_failed(
    session: AsyncSession,
    *,
    clock: Clock,
    version_text: str,
    organization_name: str | None,
    send_task: Callable[..., Any],
) -> RedeliveryResponse:
    """Queue a published release's failed webhooks again (all, or one organization's).

    Each keeps its ``webhook-id`` and gets the full number of attempts again; the dispatch
    task is enqueued once the transaction commits. 404 for an unknown release or
    organization, 409 for a release that is not published.
    """
    release = await release_service.get_release(session, version_text=version_text)
    version = release.version
    if release.status != ReleaseStatus.PUBLISHED:
        raise Conflict(
            f"Release {version} is {release.status}; only a published release's webhooks "
            "are sent again.",
            field="version",
        )
    if organization_name is not None and not await organization_service.active_organization_names(
        session, [organization_name]
    ):
        raise NotFound(f"There is no organization named {organization_name}.", field="organization")
    names = await repository.requeue_failed(
        session, release_id=release.id, organization_name=organization_name, now=clock.now()
    )
    if names:
        after_commit(session, lambda: send_task(DISPATCH_DUE_TASK))
    log.info("webhook.redelivery.queued", release=version, organizations=len(names))
    return RedeliveryResponse(version=Version.parse(version), organizations=names)


async def deliver_batch(
    runtime: Runtime,
    target_ids: Sequence[uuid.UUID | str],
    *,
    client: aiohttp.ClientSession | None = None,
) -> BatchReport:
    """Deliver the webhooks of a batch of leased targets and record every outcome.

    Idempotent: targets already acknowledged, failed, or rescheduled by another run are
    skipped. Nothing is held open while the requests are in flight: the targets are read (and
    their lease renewed) in one short transaction, the outcomes written in another. Without
    ``client`` the batch opens its own HTTP session (a process-wide one keeps connections to
    customers open from one batch to the next).
    """
    started = time.perf_counter()
    ids = [uuid.UUID(str(target_id)) for target_id in target_ids]
    now = runtime.clock.now()
    taken, releases = await _take_batch(runtime, ids, now=now)
    skipped = len(set(ids)) - len(taken)
    if not taken:
        log.info("webhook.batch.skipped", targets=len(ids))
        return BatchReport(skipped=skipped)

    requests, refusals = _plan_requests(taken, releases, settings=runtime.settings, now=now)
    results = await _send(runtime, requests, client=client)
    recorded = await outcomes.record_outcomes(
        runtime, {target.target_id: target for target in taken}, releases, results, refusals
    )
    report = dataclasses.replace(recorded, skipped=skipped)
    log.info(
        "webhook.batch.completed",
        targets=len(taken),
        acknowledged=report.acknowledged,
        retrying=report.retrying,
        failed=report.failed,
        rejected=report.rejected,
        skipped=report.skipped,
        duration_ms=round((time.perf_counter() - started) * 1000, 1),
    )
    return report


async def _take_batch(
    runtime: Runtime, ids: list[uuid.UUID], *, now: datetime
) -> tuple[list[TakenTarget], dict[uuid.UUID, ReleaseDigests]]:
    """Renew the lease of the batch's targets still due and read what their webhooks need,
    in one short transaction of its own."""
    lease = timedelta(seconds=runtime.settings.delivery_lease_seconds)
    async with session_scope(runtime.session_factory) as session:
        taken = await repository.take_batch(
            session, target_ids=ids, now=now, lease_until=now + lease
        )
        releases = await repository.releases_with_digests(
            session, {target.release_id for target in taken}
        )
    return taken, releases


async def _send(
    runtime: Runtime,
    requests: list[WebhookRequest],
    *,
    client: aiohttp.ClientSession | None,
) -> list[sender.AttemptResult]:
    """Send the requests through ``client``, or through an HTTP session opened for them."""
    settings = runtime.settings
    async with contextlib.AsyncExitStack() as stack:
        if client is None:
            client = await stack.enter_async_context(
                sender.open_client(
                    concurrency=settings.delivery_concurrency,
                    timeout_seconds=settings.webhook_timeout_seconds,
                )
            )
        return await sender.send_all(
            requests,
            client=client,
            clock=runtime.clock,
            concurrency=settings.delivery_concurrency,
            timeout_seconds=settings.webhook_timeout_seconds,
        )


def signing_secrets(target: TakenTarget, now: datetime) -> list[str]:
    """The organization's secret, plus the previous one while its rotation grace lasts."""
    secrets = [target.webhook_secret]
    if (
        target.previous_webhook_secret
        and target.previous_secret_expires_at is not None
        and target.previous_secret_expires_at > now
    ):
        secrets.append(target.previous_webhook_secret)
    return secrets


def _webhook_bodies(releases: dict[uuid.UUID, ReleaseDigests]) -> dict[uuid.UUID, bytes | str]:
    """Each release's body serialised once (the bytes every target receives), or why not."""
    bodies: dict[uuid.UUID, bytes | str] = {}
    for release_id, found in releases.items():
        release = found.release
        if release.status != ReleaseStatus.PUBLISHED:
            bodies[release_id] = f"release {release.version} is {release.status}, not published"
        elif found.chart_sha256 is None:
            bodies[release_id] = f"release {release.version} has no stored Helm chart"
        else:
            try:
                body = build_webhook_body(
                    release, chart_sha256=found.chart_sha256, compose_sha256=found.compose_sha256
                )
            except ValueError as error:  # pydantic's ValidationError included
                log.error("webhook.body.invalid", release=release.version, error=str(error))
                bodies[release_id] = f"release {release.version} has no valid webhook body"
                continue
            bodies[release_id] = body.model_dump_json().encode()
    return bodies


def _plan_requests(
    taken: Iterable[TakenTarget],
    releases: dict[uuid.UUID, ReleaseDigests],
    *,
    settings: Settings,
    now: datetime,
) -> tuple[list[WebhookRequest], list[Refusal]]:
    bodies = _webhook_bodies(releases)
    requests: list[WebhookRequest] = []
    refusals: list[Refusal] = []
    for target in taken:
        body = bodies.get(target.release_id, "the release no longer exists")
        if isinstance(body, str):
            refusals.append(Refusal(target, body))
            continue
        if target.organization_deleted_at is not None:
            refusals.append(Refusal(target, "the organization was deleted"))
            continue
        problem = sender.endpoint_problem(
            target.webhook_endpoint, allow_http=settings.allow_http_webhooks
        )
        if problem is not None:
            refusals.append(Refusal(target, problem))
            continue
        requests.append(
            WebhookRequest(
                target_id=target.target_id,
                webhook_id=target.webhook_id,
                endpoint=target.webhook_endpoint,
                body=body,
                secrets=signing_secrets(target, now),
            )
        )
    return requests, refusals
