"""New escalations are emailed once to the account manager and the GCC admins (SMTP sink)."""

from __future__ import annotations

import asyncio
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
from sqlmodel import select

from contracts import EscalationType
from gcc.escalations.models import Escalation
from gcc.escalations.service import NotifyResult, notify_new_escalations, raise_escalation
from gcc.notifications.email import SmtpMailer
from gcc.settings import Settings
from gcc.worker import celery_app
from servicekit.db import SessionFactory, session_scope
from testsupport.gcc_fixtures import OrganizationFactory
from timekeeping import ManualClock
from wrktalk_testing.network import free_port
from wrktalk_testing.smtp import SmtpSink

ACCOUNT_MANAGER = "am@wrktalk.example.com"
ADMIN = "gcc-ops@example.com"


@dataclass
class EscalationDesk:
    """Escalations raised at organizations, and the runs that email them to the SMTP sink."""

    sessions: SessionFactory
    clock: ManualClock
    settings: Settings
    organization_factory: OrganizationFactory
    smtp_sink: SmtpSink

    async def escalate(
        self,
        organization_id: uuid.UUID,
        escalation_type: EscalationType = EscalationType.DEPLOYMENT_FAILED,
        reason: str = "Deployment of 2.3.0 at customer-x failed: ImagePullBackOff",
    ) -> None:
        async with session_scope(self.sessions) as session:
            await raise_escalation(
                session,
                clock=self.clock,
                escalation_type=escalation_type,
                organization_id=organization_id,
                reason=reason,
                details={"errorMessage": "ImagePullBackOff"},
            )

    async def escalated(self, name: str = "customer-x", **organization_fields: Any) -> uuid.UUID:
        """An organization with a new ``DEPLOYMENT_FAILED`` escalation; its id."""
        created = await self.organization_factory(name, **organization_fields)
        await self.escalate(created.organization.id)
        return created.organization.id

    async def notify(self, **settings: Any) -> NotifyResult:
        """One run of the notifier, with these settings changed (the rest as the test's)."""
        changed = self.settings.model_copy(update=settings)
        async with session_scope(self.sessions) as session:
            return await notify_new_escalations(
                session, clock=self.clock, settings=changed, mailer=SmtpMailer(changed, timeout=5)
            )

    async def stored(self) -> list[Escalation]:
        async with self.sessions() as session:
            return list((await session.exec(select(Escalation))).all())


@pytest.fixture
def desk(
    organization_factory: OrganizationFactory,
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
    gcc_settings: Settings,
    smtp_sink: SmtpSink,
) -> EscalationDesk:
    """The test's database, clock, settings and SMTP sink (emptied), together."""
    return EscalationDesk(gcc_sessions, gcc_clock, gcc_settings, organization_factory, smtp_sink)


async def test_new_escalation_is_emailed_to_account_manager_and_admins(
    desk: EscalationDesk,
) -> None:
    await desk.escalated(
        account_manager_email=ACCOUNT_MANAGER, spoc_name="Ada Admin", spoc_phone="+1 555 0100"
    )

    result = await desk.notify()

    assert result == NotifyResult(sent=1, pending=0)
    [message] = desk.smtp_sink.messages
    assert sorted(message.recipients) == [ACCOUNT_MANAGER, ADMIN]
    assert message.mail_from == desk.settings.smtp_from
    assert message.subject == "[GCC] Deployment failed: customer-x"
    assert "ImagePullBackOff" in message.text
    assert "Ada Admin" in message.text
    assert "+1 555 0100" in message.text
    [escalation] = await desk.stored()
    assert escalation.notified_at == desk.clock.now()
    assert str(escalation.id) in message.text


async def test_an_escalation_is_never_emailed_twice(desk: EscalationDesk) -> None:
    organization_id = await desk.escalated(account_manager_email=ACCOUNT_MANAGER)
    await desk.notify()
    # raised again (deduplicated) and a second run
    await desk.escalate(organization_id)

    second = await desk.notify()

    assert second == NotifyResult(sent=0, pending=0)
    assert len(desk.smtp_sink.messages) == 1


async def test_overlapping_runs_email_each_escalation_once(desk: EscalationDesk) -> None:
    for index in range(6):
        await desk.escalated(f"customer-{index}")

    results = await asyncio.gather(*(desk.notify() for _ in range(3)))

    assert sum(result.sent for result in results) == 6
    subjects = [message.subject for message in desk.smtp_sink.messages]
    assert len(subjects) == 6
    assert len(set(subjects)) == 6


async def test_mail_server_down_leaves_it_pending_and_the_next_run_sends_it(
    desk: EscalationDesk,
) -> None:
    await desk.escalated(account_manager_email=ACCOUNT_MANAGER)

    failed = await desk.notify(smtp_port=free_port())

    assert failed == NotifyResult(sent=0, pending=1)
    [escalation] = await desk.stored()
    assert escalation.notified_at is None
    assert desk.smtp_sink.messages == []

    retried = await desk.notify()

    assert retried == NotifyResult(sent=1, pending=0)
    assert len(desk.smtp_sink.messages) == 1
    [escalation] = await desk.stored()
    assert escalation.notified_at is not None


async def test_without_account_manager_only_the_admins_are_emailed(desk: EscalationDesk) -> None:
    customer = await desk.organization_factory("customer-x")
    await desk.escalate(
        customer.organization.id,
        EscalationType.CLIENT_OFFLINE,
        reason="Organization customer-x has not been seen for more than 24 hours.",
    )

    await desk.notify()

    [message] = desk.smtp_sink.messages
    assert message.recipients == [ADMIN]
    assert message.subject == "[GCC] Organization not seen for more than 24 hours: customer-x"


async def test_escalation_with_nobody_to_tell_is_marked_without_email(
    desk: EscalationDesk,
) -> None:
    await desk.escalated()

    result = await desk.notify(admin_emails=[])

    assert result == NotifyResult(sent=0, pending=0)
    assert desk.smtp_sink.messages == []
    [escalation] = await desk.stored()
    assert escalation.notified_at is not None


async def test_notify_new_task_emails_new_escalations(
    task_thread: ThreadPoolExecutor, desk: EscalationDesk
) -> None:
    await desk.escalated(account_manager_email=ACCOUNT_MANAGER)
    task = celery_app.tasks["escalations.notify_new"]

    result = await asyncio.get_running_loop().run_in_executor(
        task_thread, lambda: task.apply().get()
    )

    assert result == {"sent": 1, "pending": 0}
    [message] = desk.smtp_sink.messages
    assert sorted(message.recipients) == [ACCOUNT_MANAGER, ADMIN]


def test_every_escalation_type_has_a_title_and_advice() -> None:
    from contracts import EscalationType
    from gcc.escalations.service import ADVICE, TITLES

    assert set(TITLES) == set(EscalationType)
    assert set(ADVICE) == set(EscalationType)
