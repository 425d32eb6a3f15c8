"""The admin emails the backend sends, and the context each one's templates read.

Every event has two templates under ``templates/``: ``<event>.txt.j2`` (the subject block and
the plain-text body) and ``<event>.html.j2`` (the HTML body). ``notify_admins`` refuses an
unknown event or a context without a required key when it queues the email, so every queued row
can be rendered when the worker sends it. Context keys may be snake_case or camelCase (stored
snake_case); extra keys are kept and ignored by the templates. Values are stored as JSON:
datetimes become ISO 8601 strings, which the templates print in UTC with the ``utc`` filter.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic.alias_generators import to_snake


class EmailEventName(enum.StrEnum):
    """The name of each email the admins receive (and of its templates)."""

    RELEASE_AVAILABLE = "release_available"
    FORCED_RELEASE_AVAILABLE = "forced_release_available"
    FORCED_REMINDER_12H = "forced_reminder_12h"
    FORCED_REMINDER_20H = "forced_reminder_20h"
    DEADLINE_EXCEEDED = "deadline_exceeded"
    DEPLOYMENT_SCHEDULED = "deployment_scheduled"
    DEPLOYMENT_CANCELLED = "deployment_cancelled"
    DEPLOYMENT_STARTED = "deployment_started"
    DEPLOYMENT_SUCCEEDED = "deployment_succeeded"
    DEPLOYMENT_FAILED = "deployment_failed"
    ROLLBACK_STARTED = "rollback_started"
    ROLLBACK_COMPLETED = "rollback_completed"
    ROLLBACK_FAILED = "rollback_failed"
    DOWNLOAD_FAILED = "download_failed"
    BUCKET_STORE_FAILED = "bucket_store_failed"
    TASK_TIMEOUT = "task_timeout"
    MISSED_SCHEDULE = "missed_schedule"
    ROLLBACK_MISSED = "rollback_missed"
    AGENT_OFFLINE = "agent_offline"
    MAINTENANCE_CHANGED = "maintenance_changed"
    MAINTENANCE_FAILED = "maintenance_failed"
    MANIFEST_REFUSED = "manifest_refused"
    RELEASE_WITHDRAWN = "release_withdrawn"
    CONSOLE_SIGN_IN = "console_sign_in"


@dataclass(frozen=True)
class EmailEvent:
    """An email the admins receive: the keys its context must carry, and those it may carry."""

    name: EmailEventName
    summary: str
    required: frozenset[str]
    optional: frozenset[str] = field(default_factory=frozenset)
    erased_once_sent: frozenset[str] = field(default_factory=frozenset)
    """Context keys removed from the stored row once the email is sent (a sign-in link: the
    database keeps only its hash, and the outbox holds the link no longer than it must)."""


def _event(
    name: EmailEventName,
    summary: str,
    required: set[str],
    optional: set[str] | None = None,
    erased_once_sent: set[str] | None = None,
) -> EmailEvent:
    return EmailEvent(
        name,
        summary,
        frozenset(required),
        frozenset(optional or set()),
        frozenset(erased_once_sent or set()),
    )


_RELEASE_DETAILS = {"release_name", "release_notes", "is_migration_required", "estimated_downtime"}

EMAIL_EVENTS: Mapping[str, EmailEvent] = {
    event.name: event
    for event in (
        _event(
            EmailEventName.RELEASE_AVAILABLE,
            "A new release is downloaded and verified; an admin may schedule it.",
            {"version"},
            _RELEASE_DETAILS | {"deployment_id"},
        ),
        _event(
            EmailEventName.FORCED_RELEASE_AVAILABLE,
            "A forced release arrived; it must be deployed before force_deadline (T+0).",
            {"version", "force_deadline"},
            _RELEASE_DETAILS | {"deployment_id"},
        ),
        _event(
            EmailEventName.FORCED_REMINDER_12H,
            "A forced release is still not scheduled 12 hours after it arrived.",
            {"version", "force_deadline"},
            {"release_name", "hours_remaining", "deployment_id"},
        ),
        _event(
            EmailEventName.FORCED_REMINDER_20H,
            "A forced release is still not scheduled 20 hours after it arrived.",
            {"version", "force_deadline"},
            {"release_name", "hours_remaining", "deployment_id"},
        ),
        _event(
            EmailEventName.DEADLINE_EXCEEDED,
            "A forced release was not deployed within 24 hours; GCC has been told.",
            {"version", "force_deadline"},
            {"release_name", "deployment_id"},
        ),
        _event(
            EmailEventName.DEPLOYMENT_SCHEDULED,
            "An admin scheduled a deployment.",
            {"version", "scheduled_for"},
            {"scheduled_by", "is_migration_required", "estimated_downtime", "deployment_id"},
        ),
        _event(
            EmailEventName.DEPLOYMENT_CANCELLED,
            "An admin cancelled a scheduled deployment.",
            {"version"},
            {"cancelled_by", "scheduled_for", "deployment_id"},
        ),
        _event(
            EmailEventName.DEPLOYMENT_STARTED,
            "The agent picked up a deployment.",
            {"version", "started_at"},
            {"deployment_id", "task_id"},
        ),
        _event(
            EmailEventName.DEPLOYMENT_SUCCEEDED,
            "A deployment finished and the version runs.",
            {"version", "completed_at"},
            {"helm_revision", "previous_version", "deployment_id", "task_id"},
        ),
        _event(
            EmailEventName.DEPLOYMENT_FAILED,
            "A deployment failed; rolled_back_to names the version restored, if any, and "
            "retryable whether scheduling the release again could succeed as it is.",
            {"version", "error"},
            {
                "completed_at",
                "rolled_back_to",
                "deployment_type",
                "retryable",
                "helm_revision",
                "deployment_id",
                "task_id",
            },
        ),
        _event(
            EmailEventName.ROLLBACK_STARTED,
            "An admin asked for a rollback (target_version or target_revision; neither, or "
            "to_previous, for one step back).",
            {"requested_by"},
            {"target_version", "target_revision", "to_previous", "task_id"},
        ),
        _event(
            EmailEventName.ROLLBACK_COMPLETED,
            "A rollback finished and the version runs.",
            {"version", "completed_at"},
            {"helm_revision", "target_revision", "task_id"},
        ),
        _event(
            EmailEventName.ROLLBACK_FAILED,
            "A rollback failed.",
            {"error"},
            {"target_version", "target_revision", "completed_at", "task_id"},
        ),
        _event(
            EmailEventName.DOWNLOAD_FAILED,
            "A release could not be downloaded and verified; it cannot be scheduled yet.",
            {"version", "error"},
            {"attempts", "next_attempt_at", "release_name", "deployment_id"},
        ),
        _event(
            EmailEventName.RELEASE_WITHDRAWN,
            "GCC withdrew a release: it cannot be scheduled, a pending schedule was cancelled.",
            {"version"},
            {"reason", "rollback_version", "was_cancelled", "is_deployed", "deployment_id"},
        ),
        _event(
            EmailEventName.MANIFEST_REFUSED,
            "A release's signed manifest did not verify; the release was refused.",
            {"version", "reason", "error"},
            {"release_id", "source"},
        ),
        _event(
            EmailEventName.BUCKET_STORE_FAILED,
            "A release was downloaded and verified but the bucket refused to store it; it waits "
            "in the staging directory until the bucket works (check the bucket credentials).",
            {"version", "error"},
            {"attempts", "next_attempt_at", "release_name", "deployment_id", "bucket"},
        ),
        _event(
            EmailEventName.TASK_TIMEOUT,
            "A task in progress sent no heartbeat for 30 minutes and was marked failed.",
            {"task_id", "last_activity_at"},
            {"version", "task_type", "deployment_id"},
        ),
        _event(
            EmailEventName.MISSED_SCHEDULE,
            "The agent did not pick up a deployment within the grace window; it was not run.",
            {"version", "scheduled_for"},
            {"grace_minutes", "deployment_id"},
        ),
        _event(
            EmailEventName.ROLLBACK_MISSED,
            "The agent did not pick up a rollback within the grace window; it was not run.",
            {"requested_at"},
            {"target_version", "target_revision", "grace_minutes", "task_id"},
        ),
        _event(
            EmailEventName.AGENT_OFFLINE,
            "The agent has not polled for 10 minutes (one email per outage).",
            {"last_poll_at"},
            {"minutes_since_last_poll"},
        ),
        _event(
            EmailEventName.MAINTENANCE_CHANGED,
            "An admin switched maintenance mode on or off; the agent applies it on its next poll.",
            {"enabled", "changed_by", "changed_at"},
            {"reason", "task_id"},
        ),
        _event(
            EmailEventName.MAINTENANCE_FAILED,
            "The agent could not apply an admin's maintenance switch.",
            {"enabled", "changed_by", "error"},
            {"state", "task_id"},
        ),
        _event(
            EmailEventName.CONSOLE_SIGN_IN,
            "A one-time link to sign in to the Control Tower console, to one admin only.",
            {"link", "expires_at"},
            {"name", "is_new_admin"},
            erased_once_sent={"link"},
        ),
    )
}
"""Every email event by name."""

EVENT_ALIASES: Mapping[str, str] = {
    "deployment_missed": "missed_schedule",
    "forced_deadline_exceeded": "deadline_exceeded",
}
"""Other names callers use for an event; the row keeps the caller's name."""


def email_event(event: str) -> EmailEvent:
    """The event named ``event`` (or an alias of it); ``ValueError`` when unknown."""
    known = EMAIL_EVENTS.get(EVENT_ALIASES.get(event, event))
    if known is None:
        names = ", ".join(sorted({*EMAIL_EVENTS, *EVENT_ALIASES}))
        raise ValueError(f"unknown email event {event!r}; known: {names}")
    return known


def normalize_context(context: Mapping[str, Any]) -> dict[str, Any]:
    """The context with snake_case keys (``lastPollAt`` becomes ``last_poll_at``)."""
    return {to_snake(key): value for key, value in context.items()}


def check_event_context(event: str, context: Mapping[str, Any]) -> None:
    """Raise ``ValueError`` for an unknown event or a (normalized) context missing a key."""
    known = email_event(event)
    missing = sorted(known.required - context.keys())
    if missing:
        raise ValueError(f"the {event!r} email needs context keys {', '.join(missing)}")
