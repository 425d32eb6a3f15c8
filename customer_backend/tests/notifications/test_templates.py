"""Every admin email renders: subject, plain text and HTML, from its jinja2 templates."""

from __future__ import annotations

from typing import Any

import pytest
from jinja2 import UndefinedError

from customer_backend.notifications.events import EMAIL_EVENTS, EVENT_ALIASES
from customer_backend.notifications.rendering import render, template_environment

SAMPLE_CONTEXT: dict[str, Any] = {
    "rollback_version": "2.2.0",
    "was_cancelled": True,
    "is_deployed": True,
    "version": "2.3.0",
    "release_name": "v2.3.0",
    "release_notes": "Faster media uploads.\nNew admin screen.",
    "is_migration_required": True,
    "estimated_downtime": "5 minutes",
    "deployment_id": "0b7f5a0e-1d7c-4a55-9d46-2f1b3b8e0a11",
    "task_id": "9e0c0f50-8f45-4a53-9c39-7d2f1d6f2c22",
    "task_type": "deploy",
    "force_deadline": "2026-06-02T12:00:00+00:00",
    "hours_remaining": 12,
    "scheduled_for": "2026-06-01T22:00:00+00:00",
    "scheduled_by": "ada@acme.example",
    "cancelled_by": "ada@acme.example",
    "started_at": "2026-06-01T22:00:05+00:00",
    "completed_at": "2026-06-01T22:04:40+00:00",
    "helm_revision": 7,
    "previous_version": "2.2.0",
    "error": "Error: UPGRADE FAILED: context deadline exceeded",
    "rolled_back_to": "2.2.0",
    "deployment_type": "kubernetes",
    "retryable": True,
    "requested_by": "ada@acme.example",
    "requested_at": "2026-06-01T12:00:00+00:00",
    "target_version": "2.2.0",
    "target_revision": 5,
    "attempts": 3,
    "next_attempt_at": "2026-06-01T12:15:00+00:00",
    "last_activity_at": "2026-06-01T22:00:05+00:00",
    "grace_minutes": 15,
    "last_poll_at": "2026-06-01T11:48:00+00:00",
    "minutes_since_last_poll": 12,
    "organization_name": "acme",
    "to_previous": False,
    "enabled": True,
    "state": "on",
    "changed_by": "ada@acme.example",
    "changed_at": "2026-06-01T21:30:00+00:00",
    "reason": "Database maintenance",
    "release_id": "5d0c7e1a-3b2f-4c6d-8e9f-0a1b2c3d4e5f",
    "source": "webhook",
    "link": "https://deploy.acme.example/console/sign-in/link?token=abc",
    "expires_at": "2026-06-01T12:15:00+00:00",
    "name": "Ada",
    "is_new_admin": True,
    "bucket": "customer-wrktalk",
}

EVENTS = sorted(EMAIL_EVENTS)


def test_the_events_of_spec_1_4_and_the_issue_all_exist():
    assert set(EVENTS) >= {
        "release_available",
        "forced_release_available",
        "forced_reminder_12h",
        "forced_reminder_20h",
        "deadline_exceeded",
        "deployment_scheduled",
        "deployment_started",
        "deployment_succeeded",
        "deployment_failed",
        "rollback_started",
        "rollback_completed",
        "download_failed",
        "bucket_store_failed",
        "task_timeout",
        "missed_schedule",
        "agent_offline",
        "maintenance_changed",
        "maintenance_failed",
    }


def test_every_event_has_a_text_and_an_html_template():
    names = set(template_environment().list_templates())

    for event in EVENTS:
        assert {f"{event}.txt.j2", f"{event}.html.j2"} <= names


def test_the_sample_context_covers_every_key_an_event_reads():
    for event in EMAIL_EVENTS.values():
        assert event.required | event.optional <= SAMPLE_CONTEXT.keys(), event.name


@pytest.mark.parametrize("event", EVENTS)
def test_every_event_renders_with_a_full_context(event):
    subject, text, html = render(event, SAMPLE_CONTEXT)

    assert subject.startswith("[WrkTalk acme] ")
    assert "\n" not in subject
    assert len(subject) < 160
    assert text.strip()
    assert "What to do:" in text
    assert "All times are in UTC" in text
    assert html.lstrip().startswith("<!DOCTYPE html>")
    assert "What to do:" in html


@pytest.mark.parametrize("event", EVENTS)
def test_every_event_renders_with_only_its_required_keys(event):
    known = EMAIL_EVENTS[event]
    context = {key: SAMPLE_CONTEXT[key] for key in known.required}

    subject, text, html = render(event, context)

    assert subject
    assert "None" not in text
    assert text.strip()
    assert html.strip()


@pytest.mark.parametrize("event", [e for e in EVENTS if "version" in EMAIL_EVENTS[e].required])
def test_the_version_is_in_the_subject_and_both_bodies(event):
    subject, text, html = render(event, {**SAMPLE_CONTEXT, "version": "9.8.7"})

    assert "9.8.7" in subject
    assert "9.8.7" in text
    assert "9.8.7" in html


def test_times_are_shown_in_utc():
    subject, text, _ = render(
        "deployment_scheduled",
        {"version": "2.3.0", "scheduled_for": "2026-06-02T01:30:00+02:00"},
    )

    assert "2026-06-01 23:30 UTC" in subject
    assert "2026-06-01 23:30 UTC" in text


def test_html_body_escapes_context_and_text_body_keeps_it():
    context = {"version": "2.3.0", "error": "<script>alert(1)</script> & more"}

    _, text, html = render("deployment_failed", context)

    assert "<script>alert(1)</script> & more" in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in html
    assert "<script>" not in html


def test_subject_stays_one_line_whatever_the_context_holds():
    subject, _, _ = render(
        "deployment_scheduled",
        {
            "version": "2.3.0\r\nBcc: attacker@example.com",
            "scheduled_for": "2026-06-01T22:00:00Z",
        },
    )

    assert "\r" not in subject
    assert "\n" not in subject


def test_compose_failure_warns_of_a_partial_update():
    _, text, _ = render(
        "deployment_failed",
        {"version": "2.3.0", "error": "port in use", "deployment_type": "docker"},
    )

    assert "Manual intervention is needed" in text


def test_a_retryable_failure_says_the_release_can_be_scheduled_again():
    context = {"version": "2.3.0", "error": "download failed: connection reset"}

    _, retryable_text, retryable_html = render("deployment_failed", {**context, "retryable": True})
    _, final_text, final_html = render("deployment_failed", {**context, "retryable": False})
    _, unknown_text, unknown_html = render("deployment_failed", context)

    assert retryable_text != final_text
    for text in (retryable_text, retryable_html):
        assert "running the deployment again could succeed" in text
        assert "schedule the release again" in text
        assert "fix the cause first" not in text
    for text in (final_text, final_html, unknown_text, unknown_html):
        assert "fix the cause first" in text
        assert "could succeed" not in text


def test_a_maintenance_change_says_who_switched_it_and_which_way():
    subject, text, html = render("maintenance_changed", SAMPLE_CONTEXT)

    assert subject.endswith("Maintenance mode switched on by ada@acme.example")
    assert "2026-06-01 21:30 UTC" in text
    assert "Reason: Database maintenance" in text
    assert "maintenance mode <strong>on</strong>" in html


def test_a_rollback_to_the_previous_revision_says_so():
    subject, _, _ = render("rollback_started", {"requested_by": "ada@acme.example"})

    assert subject.endswith("Rollback to the previous revision requested")


def test_camel_case_keys_render_like_snake_case():
    assert render("agent_offline", {"lastPollAt": "2026-06-01T11:48:00Z"}) == render(
        "agent_offline", {"last_poll_at": "2026-06-01T11:48:00Z"}
    )


@pytest.mark.parametrize(("alias", "event"), sorted(EVENT_ALIASES.items()))
def test_an_alias_renders_its_event(alias, event):
    assert render(alias, SAMPLE_CONTEXT) == render(event, SAMPLE_CONTEXT)


def test_unknown_event_is_refused():
    with pytest.raises(ValueError, match="unknown email event 'deployment_exploded'"):
        render("deployment_exploded", SAMPLE_CONTEXT)


def test_missing_required_key_is_refused_naming_it():
    with pytest.raises(ValueError, match="needs context keys force_deadline"):
        render("forced_reminder_12h", {"version": "2.3.0"})


def test_a_template_reading_an_unknown_name_fails_loudly():
    template = template_environment().from_string("{{ not_in_context }}")

    with pytest.raises(UndefinedError):
        template.render({})
