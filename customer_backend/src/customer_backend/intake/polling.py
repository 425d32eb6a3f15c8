"""Polling GCC's updates endpoint: how a release whose webhook never arrived is taken up."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import structlog
from pydantic import ValidationError
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import ReleasePublishedWebhook, ReleaseWithdrawnWebhook
from customer_backend.deployments import withdrawals
from customer_backend.installation import service as installation
from customer_backend.intake.manifests import report_refusal
from customer_backend.intake.service import license_is_valid, record_release
from customer_backend.runtime import Runtime
from servicekit.db import session_scope
from signing import ManifestRefused

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class PollOutcome:
    """What one poll of GCC's updates endpoint found."""

    offered: int
    recorded: int
    invalid: int
    refused: int = 0
    """Releases whose signed manifest was refused (logged, admins emailed)."""


async def poll_gcc(*, runtime: Runtime) -> PollOutcome | None:
    """Feed every release GCC's updates endpoint offers through :func:`record_release`.

    This is how a release whose webhook never arrived is taken up; the releases GCC withdrew
    after telling this installation of them are recorded withdrawn too. Returns None when GCC could
    not be asked (the next beat tries again); ``last_gcc_poll_at`` records each answered poll.
    Each poll also tells GCC whether this backend sends heartbeats (``heartbeatEnabled``).
    An air-gapped backend (``WRKTALK_AIR_GAPPED``) never polls: None.
    """
    settings = runtime.settings
    if settings.air_gapped:
        log.info("intake.poll.skipped", reason="air_gapped")
        return None
    path = f"/api/v1/organizations/{settings.organization_name}/updates"
    heartbeat = "true" if settings.heartbeat_enabled else "false"
    try:
        response = await runtime.gcc.get(path, params={"heartbeatEnabled": heartbeat})
    except httpx.HTTPError as error:
        log.warning("intake.poll.failed", error=repr(error))
        return None
    if response.status_code != httpx.codes.OK:
        log.warning("intake.poll.failed", status=response.status_code, body=response.text[:300])
        return None
    try:
        document = response.json()
        entries = document["releases"]
        withdrawn = document.get("withdrawn") or []
    except (ValueError, KeyError, TypeError, AttributeError):
        log.warning("intake.poll.failed", reason="unexpected_body", body=response.text[:300])
        return None
    now = runtime.clock.now()
    offered, recorded, invalid, refused = len(entries), 0, 0, 0
    if entries and not license_is_valid(settings=settings, now=now):
        log.warning("intake.poll.skipped", reason="license_expired", offered=offered)
        entries = []
    async with session_scope(runtime.session_factory) as session:
        for entry in entries:
            try:
                webhook = ReleasePublishedWebhook.model_validate(entry)
            except ValidationError as error:
                invalid += 1
                log.warning("intake.poll.invalid_release", error=str(error).splitlines()[0])
                continue
            is_new = await _take_up(session, runtime=runtime, webhook=webhook, entry=entry)
            if is_new is None:
                refused += 1
            else:
                recorded += is_new
        await _take_up_withdrawals(session, runtime=runtime, entries=withdrawn)
        await installation.record_gcc_poll(session, now=now)
    log.info(
        "intake.poll.completed",
        offered=offered,
        recorded=recorded,
        invalid=invalid,
        refused=refused,
    )
    return PollOutcome(offered=offered, recorded=recorded, invalid=invalid, refused=refused)


async def _take_up_withdrawals(
    session: AsyncSession, *, runtime: Runtime, entries: list[Any]
) -> None:
    """Record each release the poll says GCC withdrew (known ones change nothing)."""
    for entry in entries:
        try:
            withdrawal = ReleaseWithdrawnWebhook.model_validate(entry)
        except ValidationError as error:
            log.warning("intake.poll.invalid_withdrawal", error=str(error).splitlines()[0])
            continue
        await withdrawals.withdraw_release(
            session,
            clock=runtime.clock,
            settings=runtime.settings,
            withdrawal=withdrawal,
            send_task=runtime.send_task,
        )


async def _take_up(
    session: AsyncSession, *, runtime: Runtime, webhook: ReleasePublishedWebhook, entry: Any
) -> bool | None:
    """Record one offered release: whether it is new, None when its manifest is refused
    (logged and reported to the admins, nothing recorded)."""
    try:
        outcome = await record_release(
            session,
            clock=runtime.clock,
            settings=runtime.settings,
            webhook=webhook,
            release_data=entry,
            send_task=runtime.send_task,
        )
    except ManifestRefused as refusal:
        await report_refusal(
            session,
            clock=runtime.clock,
            webhook=webhook,
            refusal=refusal,
            source="updates poll",
            send_task=runtime.send_task,
        )
        return None
    return outcome.is_new
