"""From the agent's final status to the admins' inbox, through the broker and a real worker."""

from __future__ import annotations

from celery.contrib.testing.worker import start_worker

from customer_backend.notifications.service import SEND_PENDING_TASK
from customer_backend.runtime import task_sender
from customer_backend.worker import celery_app, configure_celery, use_clock


async def test_completed_deployment_emails_the_admins_through_the_worker(
    backend_client,
    agent_headers,
    release_factory,
    task_factory,
    admin_factory,
    smtp_sink,
    backend_settings,
    backend_task_recorder,
    gcc_clock,
):
    ada = await admin_factory("ada@acme.example")
    await task_factory(await release_factory("2.3.0"))
    configure_celery(backend_settings)
    use_clock(gcc_clock)
    backend_task_recorder.forward_to = task_sender(backend_settings)
    try:
        with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
            claimed = await backend_client.get("/internal/agent/tasks", headers=agent_headers)
            task_id = claimed.json()["task"]["id"]
            response = await backend_client.post(
                f"/internal/agent/tasks/{task_id}/status",
                headers=agent_headers,
                json={"status": "completed", "result": {"status": "success", "helmRevision": 3}},
            )
            succeeded = smtp_sink.wait_for(
                lambda m: "completed successfully" in m.subject, timeout=20
            )
            # The claim queued its email without touching the broker; the completion's request
            # to the worker sends every due email, that one included.
            started = smtp_sink.wait_for(lambda m: "has started" in m.subject, timeout=20)
    finally:
        use_clock(None)

    assert response.status_code == 200
    assert SEND_PENDING_TASK in backend_task_recorder.names()
    assert [m.recipients for m in started] == [[ada.admin.email]]
    assert [m.subject for m in succeeded] == [
        "[WrkTalk acme] Deployment of WrkTalk 2.3.0 completed successfully"
    ]
