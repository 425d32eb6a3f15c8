"""Polling GCC's updates endpoint: how a release whose webhook never arrived is taken up."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import structlog
from pydantic import ValidationError

from contracts import ReleasePublishedWebhook
from customer_backend.installation import service as installation
from customer_backend.intake.service import license_is_valid, record_release
from customer_backend.runtime import Runtime
from servicekit.db import session_scope

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class PollOutcome:
    """What one poll of GCC's updates endpoint found."""

    offered: int
    recorded: int
    invalid: int


async def poll_gcc(*, runtime: Runtime) -> PollOutcome | None:
    """Feed every release GCC's updates endpoint offers through :func:`record_release`.

    This is how a release whose webhook never arrived is taken up. Returns None when GCC could
    not be asked (the next beat tries again); ``last_gcc_poll_at`` records each answered poll.
    """
    settings = runtime.settings
    path = f"/api/v1/organizations/{settings.organization_name}/updates"
    try:
        response = await runtime.gcc.get(path)
    except httpx.HTTPError as error:
        log.warning("intake.poll.failed", error=repr(error))
        return None
    if response.status_code != httpx.codes.OK:
        log.warning("intake.poll.failed", status=response.status_code, body=response.text[:300])
        return None
    try:
        entries = response.json()["releases"]
    except (ValueError, KeyError, TypeError):
        log.warning("intake.poll.failed", reason="unexpected_body", body=response.text[:300])
        return None
    now = runtime.clock.now()
    offered, recorded, invalid = len(entries), 0, 0
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
            outcome = await record_release(
                session,
                clock=runtime.clock,
                settings=settings,
                webhook=webhook,
                release_data=entry,
                send_task=runtime.send_task,
            )
            recorded += outcome.is_new
        await installation.record_gcc_poll(session, now=now)
    log.info("intake.poll.completed", offered=offered, recorded=recorded, invalid=invalid)
    return PollOutcome(offered=offered, recorded=recorded, invalid=invalid)
