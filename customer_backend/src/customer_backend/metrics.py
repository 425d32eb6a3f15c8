"""The customer backend's Prometheus metrics (``docs/operator-runbook.md`` lists each one).

Counters and histograms move where the work happens (a webhook, a download, a claim, an
email); the gauges describe what the database holds and are set before each scrape by
:mod:`customer_backend.monitoring.service`. Labels take a handful of values each.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

WEBHOOKS_RECEIVED = Counter(
    "wrktalk_backend_webhooks_received_total",
    "Release webhooks from GCC by outcome: accepted, duplicate (a release already known), "
    "unauthorized (signature or timestamp), invalid (not a release), license_expired, "
    "manifest_refused (the signed manifest did not verify).",
    ["outcome"],
)
DOWNLOADS = Counter(
    "wrktalk_backend_downloads_total",
    "Artifact download rounds by artifact type and outcome (downloaded, failed).",
    ["type", "outcome"],
)
DOWNLOAD_BYTES = Counter(
    "wrktalk_backend_download_bytes_total", "Bytes of the artifacts downloaded.", ["type"]
)
DOWNLOAD_DURATION = Histogram(
    "wrktalk_backend_download_duration_seconds",
    "Time of one download round (its tries and their backoff included).",
    ["type"],
    buckets=(0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600),
)
RETENTION_FAILURES = Counter(
    "wrktalk_backend_retention_failures_total",
    "Retention runs that failed by artifact type (the bucket refused a listing or a delete); "
    "beat's hourly sweep tries again.",
    ["type"],
)
BUCKET_STORE_FAILURES = Counter(
    "wrktalk_backend_bucket_store_failures_total",
    "Rounds whose verified artifact the bucket refused to store, by artifact type; the file "
    "waits in the staging directory and beat tries the store again.",
    ["type"],
)
CLAIM_LATENCY = Histogram(
    "wrktalk_backend_task_claim_latency_seconds",
    "Time from a task becoming due (its executeAfter) to an agent claiming it.",
    buckets=(1, 5, 10, 30, 60, 120, 300, 900, 1800, 3600),
)
EMAILS = Counter(
    "wrktalk_backend_emails_total", "Emails to the admins by outcome (sent, failed).", ["outcome"]
)

# Set from the database before each scrape; in multiprocess mode the latest value wins.
OUTBOX_DEPTH = Gauge(
    "wrktalk_backend_outbox_depth",
    "Reports to GCC waiting in the outbox (neither sent nor refused).",
    multiprocess_mode="mostrecent",
)
OUTBOX_OLDEST_AGE = Gauge(
    "wrktalk_backend_outbox_oldest_age_seconds",
    "Age of the oldest report waiting in the outbox (0 when it is empty).",
    multiprocess_mode="mostrecent",
)
AGENT_TASKS = Gauge(
    "wrktalk_backend_agent_tasks",
    "Agent tasks by state.",
    ["status"],
    multiprocess_mode="mostrecent",
)
AGENT_LAST_SEEN = Gauge(
    "wrktalk_backend_agent_last_seen_timestamp_seconds",
    "When the agent last polled, as a Unix time (0 before its first poll).",
    multiprocess_mode="mostrecent",
)
