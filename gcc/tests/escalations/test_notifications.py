"""New escalations are emailed once to the account manager and the GCC admins (SMTP sink)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlmodel import select

from contracts import EscalationType
from gcc.db import SessionFactory, session_scope
from gcc.escalations.models import Escalation
from gcc.escalations.service import NotifyResult, notify_new_escalations, raise_escalation
from gcc.notifications.email import SmtpMailer
from gcc.settings import Settings
from gcc.worker import celery_app, close_task_runtime, configure_celery, use_clock
from timekeeping import ManualClock
from wrktalk_testing.network import free_port
from wrktalk_testing.smtp import SmtpSink

ACCOUNT_MANAGER = "am@wrktalk.example.com"
ADMIN = "gcc-ops@example.com"


async def escalate(
    sessions: SessionFactory,
    clock: ManualClock,
    organization_id: uuid.UUID,
    escalation_type: EscalationType = EscalationType.DEPLOYMENT_FAILED,
    reason: str = "Deployment of 2.3.0 at customer-x failed: ImagePullBackOff",
) -> None:
    async with session_scope(sessions) as session:
        await raise_escalation(
            session,
            clock=clock,
            escalation_type=escalation_type,
            organization_id=organization_id,
            reason=reason,
            details={"errorMessage": "ImagePullBackOff"},
        )


async def notify(sessions: SessionFactory, clock: ManualClock, settings: Settings) -> NotifyResult:
    async with session_scope(sessions) as session:
        return await notify_new_escalations(
            session, clock=clock, settings=settings, mailer=SmtpMailer(settings, timeout=5)
        )


async def stored_escalations(sessions: SessionFactory) -> list[Escalation]:
    async with sessions() as session:
        return list((await session.exec(select(Escalation))).all())


async def test_new_escalation_is_emailed_to_account_manager_and_admins(
    organization_factory: Any,
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
    gcc_settings: Settings,
    smtp_sink: SmtpSink,
) -> None:
    customer = await organization_factory(
        "customer-x",
        account_manager_email=ACCOUNT_MANAGER,
        spoc_name="Ada Admin",
        spoc_phone="+1 555 0100",
    )
    await escalate(gcc_sessions, gcc_clock, customer.organization.id)

    result = await notify(gcc_sessions, gcc_clock, gcc_settings)

    assert result == NotifyResult(sent=1, pending=0)
    [message] = smtp_sink.messages
    assert sorted(message.recipients) == [ACCOUNT_MANAGER, ADMIN]
    assert message.mail_from == gcc_settings.smtp_from
    assert message.subject == "[GCC] Deployment failed: customer-x"
    assert "ImagePullBackOff" in message.text
    assert "Ada Admin" in message.text
    assert "+1 555 0100" in message.text
    [escalation] = await stored_escalations(gcc_sessions)
    assert escalation.notified_at == gcc_clock.now()
    assert str(escalation.id) in message.text


async def test_an_escalation_is_never_emailed_twice(
    organization_factory: Any,
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
    gcc_settings: Settings,
    smtp_sink: SmtpSink,
) -> None:
    customer = await organization_factory("customer-x", account_manager_email=ACCOUNT_MANAGER)
    await escalate(gcc_sessions, gcc_clock, customer.organization.id)
    await notify(gcc_sessions, gcc_clock, gcc_settings)
    # raised again (deduplicated) and a second run
    await escalate(gcc_sessions, gcc_clock, customer.organization.id)

    second = await notify(gcc_sessions, gcc_clock, gcc_settings)

    assert second == NotifyResult(sent=0, pending=0)
    assert len(smtp_sink.messages) == 1


async def test_overlapping_runs_email_each_escalation_once(
    organization_factory: Any,
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
    gcc_settings: Settings,
    smtp_sink: SmtpSink,
) -> None:
    for index in range(6):
        customer = await organization_factory(f"customer-{index}")
        await escalate(gcc_sessions, gcc_clock, customer.organization.id)

    results = await asyncio.gather(
        *(notify(gcc_sessions, gcc_clock, gcc_settings) for _ in range(3))
    )

    assert sum(result.sent for result in results) == 6
    subjects = [message.subject for message in smtp_sink.messages]
    assert len(subjects) == 6
    assert len(set(subjects)) == 6


async def test_mail_server_down_leaves_it_pending_and_the_next_run_sends_it(
    organization_factory: Any,
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
    gcc_settings: Settings,
    smtp_sink: SmtpSink,
) -> None:
    customer = await organization_factory("customer-x", account_manager_email=ACCOUNT_MANAGER)
    await escalate(gcc_sessions, gcc_clock, customer.organization.id)
    down = gcc_settings.model_copy(update={"smtp_port": free_port()})

    failed = await notify(gcc_sessions, gcc_clock, down)

    assert failed == NotifyResult(sent=0, pending=1)
    [escalation] = await stored_escalations(gcc_sessions)
    assert escalation.notified_at is None
    assert smtp_sink.messages == []

    retried = await notify(gcc_sessions, gcc_clock, gcc_settings)

    assert retried == NotifyResult(sent=1, pending=0)
    assert len(smtp_sink.messages) == 1
    [escalation] = await stored_escalations(gcc_sessions)
    assert escalation.notified_at is not None


async def test_without_account_manager_only_the_admins_are_emailed(
    organization_factory: Any,
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
    gcc_settings: Settings,
    smtp_sink: SmtpSink,
) -> None:
    customer = await organization_factory("customer-x")
    await escalate(
        gcc_sessions,
        gcc_clock,
        customer.organization.id,
        EscalationType.CLIENT_OFFLINE,
        reason="Organization customer-x has not been seen for more than 24 hours.",
    )

    await notify(gcc_sessions, gcc_clock, gcc_settings)

    [message] = smtp_sink.messages
    assert message.recipients == [ADMIN]
    assert message.subject == "[GCC] Organization offline with a forced release pending: customer-x"


async def test_escalation_with_nobody_to_tell_is_marked_without_email(
    organization_factory: Any,
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
    gcc_settings: Settings,
    smtp_sink: SmtpSink,
) -> None:
    customer = await organization_factory("customer-x")
    await escalate(gcc_sessions, gcc_clock, customer.organization.id)
    nobody = gcc_settings.model_copy(update={"admin_emails": []})

    result = await notify(gcc_sessions, gcc_clock, nobody)

    assert result == NotifyResult(sent=0, pending=0)
    assert smtp_sink.messages == []
    [escalation] = await stored_escalations(gcc_sessions)
    assert escalation.notified_at is not None


@pytest.fixture
def task_thread(gcc_settings: Settings, gcc_clock: ManualClock) -> Iterator[ThreadPoolExecutor]:
    """One thread that runs Celery tasks as a worker would, with the test's settings and clock."""
    configure_celery(gcc_settings)
    use_clock(gcc_clock)
    executor = ThreadPoolExecutor(max_workers=1)
    yield executor
    executor.submit(close_task_runtime).result()
    executor.shutdown()
    use_clock(None)


async def test_notify_new_task_emails_new_escalations(
    task_thread: ThreadPoolExecutor,
    organization_factory: Any,
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
    smtp_sink: SmtpSink,
) -> None:
    customer = await organization_factory("customer-x", account_manager_email=ACCOUNT_MANAGER)
    await escalate(gcc_sessions, gcc_clock, customer.organization.id)
    task = celery_app.tasks["escalations.notify_new"]

    result = await asyncio.get_running_loop().run_in_executor(
        task_thread, lambda: task.apply().get()
    )

    assert result == {"sent": 1, "pending": 0}
    [message] = smtp_sink.messages
    assert sorted(message.recipients) == [ACCOUNT_MANAGER, ADMIN]


def test_every_escalation_type_has_a_title_and_advice() -> None:
    from contracts import EscalationType
    from gcc.escalations.service import ADVICE, TITLES

    assert set(TITLES) == set(EscalationType)
    assert set(ADVICE) == set(EscalationType)
