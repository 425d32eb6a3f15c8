"""The timing rules of the specification, as each tier's defaults and beat schedule hold them.

Spec 5.1 and 7: the customer backend polls GCC and heartbeats every 5 minutes; spec 8.5: the
task timeout check runs every minute (30 minutes without a heartbeat fails a task); spec 6.3:
helm upgrade runs with ``--timeout 10m``; spec 8.2: a webhook is retried twice, 60 s apart;
spec 11.2: the agent sends a task heartbeat every 60 s. The defaults are read from the settings
classes, not from the environment, so a variable set on the machine cannot hide a change.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic_settings import BaseSettings

from customer_backend.celery_app import BEAT_SCHEDULE as BACKEND_SCHEDULE
from customer_backend.celery_app import OUTBOX_INTERVAL_SECONDS
from customer_backend.settings import Settings as BackendSettings
from gcc.celery_app import BEAT_SCHEDULE as GCC_SCHEDULE
from gcc.settings import Settings as GccSettings
from wrktalk_agent.settings import Settings as AgentSettings

FIVE_MINUTES = 300.0
ONE_MINUTE = 60.0


def default(settings: type[BaseSettings], name: str) -> Any:
    return settings.model_fields[name].default


def schedule_in_seconds(
    schedule: dict[str, str | float], settings: type[BaseSettings]
) -> dict[str, float]:
    """Each periodic task and how often beat runs it with the default settings."""
    return {
        task: float(default(settings, interval) if isinstance(interval, str) else interval)
        for task, interval in schedule.items()
    }


def test_the_backend_polls_gcc_every_5_minutes() -> None:
    assert default(BackendSettings, "gcc_poll_interval") == FIVE_MINUTES


def test_the_backend_heartbeats_to_gcc_every_5_minutes_unless_switched_off() -> None:
    assert BACKEND_SCHEDULE["reporting.send_heartbeat"] == "gcc_poll_interval"
    assert default(BackendSettings, "heartbeat_enabled") is True


def test_the_task_timeout_check_runs_every_minute_and_times_out_after_30_minutes() -> None:
    assert BACKEND_SCHEDULE["deployments.run_timelines"] == "timeline_interval_seconds"
    assert default(BackendSettings, "timeline_interval_seconds") == ONE_MINUTE
    assert default(BackendSettings, "task_timeout_minutes") == 30.0


def test_helm_runs_with_a_10_minute_timeout() -> None:
    assert default(AgentSettings, "helm_timeout") == "10m"


def test_the_agent_sends_a_task_heartbeat_every_60_seconds() -> None:
    assert default(AgentSettings, "heartbeat_interval") == ONE_MINUTE


def test_webhooks_are_tried_three_times_60_seconds_apart() -> None:
    assert default(GccSettings, "webhook_max_attempts") == 3
    assert default(GccSettings, "webhook_retry_delay_seconds") == ONE_MINUTE


def test_the_backend_beat_schedule_follows_the_spec() -> None:
    assert schedule_in_seconds(BACKEND_SCHEDULE, BackendSettings) == {
        "intake.poll_gcc": FIVE_MINUTES,
        "reporting.send_heartbeat": FIVE_MINUTES,
        # spec 8.3 error 3.1: a background job retries failed downloads periodically
        "intake.retry_downloads": ONE_MINUTE,
        # spec 8.5: task timeouts; spec 10: missed schedules, forced reminders and deadlines
        "deployments.run_timelines": ONE_MINUTE,
        # spec 8.3 error 3.4: a cleanup that failed is retried in a background job
        "intake.apply_retention": 3600.0,
        "notifications.send_pending": OUTBOX_INTERVAL_SECONDS,
        "reporting.flush_outbox": OUTBOX_INTERVAL_SECONDS,
    }


def test_the_gcc_beat_schedule_follows_the_spec() -> None:
    assert schedule_in_seconds(GCC_SCHEDULE, GccSettings) == {
        # due deliveries, so that a retry 60 s after a failure goes out within seconds of it
        "delivery.dispatch_due": 5.0,
        # spec 11.1: health from lastSeen with 10-minute, 1-hour and 24-hour thresholds
        "health.classify": ONE_MINUTE,
        "escalations.notify_new": ONE_MINUTE,
        "releases.recheck_gates": ONE_MINUTE,
        # spec 8.1 error 1.2: a cleanup job deletes orphan charts
        "releases.remove_orphan_artifacts": 3600.0,
        # phased rollouts: a halt within a minute of the report that trips a gate
        "rollouts.evaluate": ONE_MINUTE,
    }


@pytest.mark.parametrize(
    ("settings", "schedule"),
    [(GccSettings, GCC_SCHEDULE), (BackendSettings, BACKEND_SCHEDULE)],
)
def test_every_schedule_setting_exists(
    settings: type[BaseSettings], schedule: dict[str, str | float]
) -> None:
    names = [interval for interval in schedule.values() if isinstance(interval, str)]
    assert [name for name in names if name not in settings.model_fields] == []
