"""Queueing admin email with the change that causes it, and sending it over SMTP, retried."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from celery.contrib.testing.worker import start_worker
from sqlmodel import select

from customer_backend.notifications.models import Notification
from customer_backend.notifications.sending import send_due_notifications
from customer_backend.notifications.service import SEND_PENDING_TASK, notify_admins
from customer_backend.settings import Settings
from customer_backend.worker import celery_app, configure_celery, use_clock
from servicekit.db import SessionFactory, session_scope
from testsupport.gcc_fixtures import TaskRecorder
from testsupport.metrics import scrape
from timekeeping import ManualClock
from wrktalk_testing.network import free_port
from wrktalk_testing.smtp import SmtpSink

CONTEXT = {"version": "2.3.0", "completed_at": "2026-06-01T12:00:00Z", "helm_revision": 7}


async def queue(
    sessions: SessionFactory,
    clock: ManualClock,
    *,
    event: str = "deployment_succeeded",
    dedupe_key: str = "deployment_succeeded:t1",
    context: dict[str, Any] | None = None,
    send_task: Any = None,
) -> bool:
    async with session_scope(sessions) as session:
        return await notify_admins(
            session,
            clock=clock,
            event=event,
            dedupe_key=dedupe_key,
            context=CONTEXT if context is None else context,
            send_task=send_task,
        )


async def notifications(sessions: SessionFactory) -> list[Notification]:
    async with sessions() as session:
        return list((await session.exec(select(Notification))).all())


async def send(sessions: SessionFactory, clock: ManualClock, settings: Settings) -> list[Any]:
    return await send_due_notifications(sessions, clock=clock, settings=settings)


async def test_due_email_is_sent_once_to_every_active_admin(
    backend_sessions, gcc_clock, backend_settings, admin_factory, smtp_sink: SmtpSink
):
    ada = await admin_factory("ada@acme.example")
    bob = await admin_factory("bob@acme.example")
    await queue(backend_sessions, gcc_clock)

    first = await send(backend_sessions, gcc_clock, backend_settings)
    second = await send(backend_sessions, gcc_clock, backend_settings)

    assert [outcome.is_sent for outcome in first] == [True]
    assert second == []
    [message] = smtp_sink.wait_for(lambda m: "2.3.0" in m.subject)
    assert sorted(message.recipients) == [ada.admin.email, bob.admin.email]
    assert message.mail_from == backend_settings.smtp_from
    assert message.subject == "[WrkTalk acme] Deployment of WrkTalk 2.3.0 completed successfully"
    assert message.message.get_content_type() == "multipart/alternative"
    assert "Helm revision: 7." in message.text
    html = message.message.get_body(preferencelist=("html",))
    assert html is not None
    assert "<strong>2.3.0</strong>" in html.get_content()
    [row] = await notifications(backend_sessions)
    assert row.sent_at == gcc_clock.now()
    assert sorted(row.recipients or []) == [ada.admin.email, bob.admin.email]
    assert row.attempts == 1
    assert len(smtp_sink.messages) == 1


async def test_deactivated_admin_receives_nothing(
    backend_sessions, gcc_clock, backend_settings, admin_factory, smtp_sink
):
    from customer_backend.admins.service import deactivate_admin

    await admin_factory("ada@acme.example")
    await admin_factory("gone@acme.example")
    async with session_scope(backend_sessions) as session:
        await deactivate_admin(session, clock=gcc_clock, email="gone@acme.example")
    await queue(backend_sessions, gcc_clock)

    await send(backend_sessions, gcc_clock, backend_settings)

    [message] = smtp_sink.wait_for(lambda m: True)
    assert message.recipients == ["ada@acme.example"]


async def test_smtp_failure_is_retried_later_and_then_sent_once(
    backend_sessions, gcc_clock, backend_settings, admin_factory, smtp_sink
):
    await admin_factory("ada@acme.example")
    await queue(backend_sessions, gcc_clock)
    mail_down = backend_settings.model_copy(update={"smtp_port": free_port()})

    [failed] = await send(backend_sessions, gcc_clock, mail_down)

    assert failed.is_sent is False
    [row] = await notifications(backend_sessions)
    assert row.sent_at is None
    assert row.attempts == 1
    assert row.next_attempt_at == gcc_clock.now() + timedelta(minutes=1)
    assert "ConnectionRefusedError" in (row.last_error or "")
    assert await send(backend_sessions, gcc_clock, backend_settings) == []  # not due yet

    gcc_clock.advance(timedelta(minutes=1))
    [sent] = await send(backend_sessions, gcc_clock, backend_settings)

    assert sent.is_sent is True
    assert len(smtp_sink.wait_for(lambda m: True)) == 1
    [row] = await notifications(backend_sessions)
    assert (row.attempts, row.last_error) == (2, None)


async def test_repeated_smtp_failures_back_off_exponentially(
    backend_sessions, gcc_clock, backend_settings, admin_factory
):
    await admin_factory("ada@acme.example")
    await queue(backend_sessions, gcc_clock)
    mail_down = backend_settings.model_copy(update={"smtp_port": free_port()})
    delays = []

    for _ in range(8):
        await send(backend_sessions, gcc_clock, mail_down)
        [row] = await notifications(backend_sessions)
        delays.append(row.next_attempt_at - gcc_clock.now())
        gcc_clock.set(row.next_attempt_at)

    assert [int(delay.total_seconds() // 60) for delay in delays] == [1, 2, 4, 8, 16, 32, 60, 60]


async def test_email_without_an_active_admin_is_closed_unsent(
    backend_sessions, gcc_clock, backend_settings, smtp_sink
):
    await queue(backend_sessions, gcc_clock)

    await send(backend_sessions, gcc_clock, backend_settings)

    [row] = await notifications(backend_sessions)
    assert row.sent_at == gcc_clock.now()
    assert row.recipients == []
    assert smtp_sink.messages == []


async def test_the_same_dedupe_key_queues_one_email(backend_sessions, gcc_clock):
    first = await queue(backend_sessions, gcc_clock)
    second = await queue(backend_sessions, gcc_clock)

    assert (first, second) == (True, False)
    assert len(await notifications(backend_sessions)) == 1


async def test_unknown_event_is_refused_when_queued(backend_sessions, gcc_clock):
    with pytest.raises(ValueError, match="unknown email event"):
        await queue(backend_sessions, gcc_clock, event="deployment_exploded")

    assert await notifications(backend_sessions) == []


async def test_context_missing_a_required_key_is_refused_when_queued(backend_sessions, gcc_clock):
    with pytest.raises(ValueError, match="needs context keys completed_at"):
        await queue(backend_sessions, gcc_clock, context={"version": "2.3.0"})


async def test_camel_case_context_is_stored_snake_case_as_json(backend_sessions, gcc_clock):
    await queue(
        backend_sessions,
        gcc_clock,
        event="agent_offline",
        dedupe_key="agent_offline:1",
        context={"lastPollAt": gcc_clock.now(), "minutesSinceLastPoll": 12},
    )

    [row] = await notifications(backend_sessions)
    assert row.context == {"last_poll_at": "2026-06-01T12:00:00Z", "minutes_since_last_poll": 12}


async def test_queued_email_asks_the_worker_to_send_after_commit(backend_sessions, gcc_clock):
    recorder = TaskRecorder()

    await queue(backend_sessions, gcc_clock, send_task=recorder)
    await queue(backend_sessions, gcc_clock, send_task=recorder)  # a repeat queues nothing

    assert recorder.names() == [SEND_PENDING_TASK]


async def test_unreachable_broker_does_not_fail_the_committed_change(backend_sessions, gcc_clock):
    def broken_sender(name: str, *args: Any, **kwargs: Any) -> None:
        raise ConnectionRefusedError("broker down")

    assert await queue(backend_sessions, gcc_clock, send_task=broken_sender) is True

    assert len(await notifications(backend_sessions)) == 1


async def test_rolled_back_email_is_neither_stored_nor_sent(backend_sessions, gcc_clock):
    recorder = TaskRecorder()

    with pytest.raises(RuntimeError):
        async with session_scope(backend_sessions) as session:
            await notify_admins(
                session,
                clock=gcc_clock,
                event="deployment_succeeded",
                dedupe_key="k",
                context=CONTEXT,
                send_task=recorder,
            )
            raise RuntimeError("the change failed")

    assert recorder.sent == []
    assert await notifications(backend_sessions) == []


async def test_send_pending_runs_in_a_real_celery_worker(
    backend_sessions, gcc_clock, backend_settings, admin_factory, smtp_sink
):
    await admin_factory("ada@acme.example")
    await queue(backend_sessions, gcc_clock)
    configure_celery(backend_settings)
    use_clock(gcc_clock)
    try:
        with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
            celery_app.send_task(SEND_PENDING_TASK)
            received = smtp_sink.wait_for(lambda m: "2.3.0" in m.subject, timeout=20)
    finally:
        use_clock(None)

    assert len(received) == 1
    [row] = await notifications(backend_sessions)
    assert row.sent_at is not None


async def test_emails_are_counted_as_failed_then_sent(
    backend_sessions, gcc_clock, backend_settings, admin_factory, smtp_sink, backend_client
):
    await admin_factory("ada@acme.example")
    await admin_factory("bob@acme.example")
    await queue(backend_sessions, gcc_clock)
    before = await scrape(backend_client)

    [failed] = await send(
        backend_sessions, gcc_clock, backend_settings.model_copy(update={"smtp_port": free_port()})
    )
    assert failed.is_sent is False
    gcc_clock.advance(timedelta(minutes=1))
    [sent] = await send(backend_sessions, gcc_clock, backend_settings)
    assert sent.is_sent is True

    after = await scrape(backend_client)
    # one email to every admin: counted once
    assert after.moved(before, "wrktalk_backend_emails_total", outcome="failed") == 1
    assert after.moved(before, "wrktalk_backend_emails_total", outcome="sent") == 1
    assert len(smtp_sink.wait_for(lambda message: True)) == 1
