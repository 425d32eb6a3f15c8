"""The GCC's Prometheus metrics (``docs/operator-runbook.md`` lists what each one means).

Counters and histograms move where the work happens (a delivery batch, a heartbeat, an
upload). The gauges describe what the database holds and are set before each scrape by
:mod:`gcc.monitoring.service`. Labels take a handful of values each: an organization is never a
label (per-organization detail is in the operator API).
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

WEBHOOK_DELIVERIES = Counter(
    "wrktalk_gcc_webhook_deliveries_total",
    "Webhook delivery attempts by how they left their target: acknowledged, retrying "
    "(another attempt is scheduled), failed (no attempt left, or not sent), rejected (401).",
    ["outcome"],
)
WEBHOOK_DELIVERY_DURATION = Histogram(
    "wrktalk_gcc_webhook_delivery_duration_seconds",
    "Time from sending a webhook to its answer (or its failure).",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
FANOUT_DURATION = Histogram(
    "wrktalk_gcc_fanout_duration_seconds",
    "Time from a release's publication until none of its webhooks is still pending.",
    buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200),
)
HEARTBEATS = Counter("wrktalk_gcc_heartbeats_received_total", "Heartbeats accepted.")
ARTIFACT_UPLOADS = Counter(
    "wrktalk_gcc_artifact_uploads_total", "Artifact uploads stored, by artifact type.", ["type"]
)
ARTIFACT_UPLOAD_BYTES = Counter(
    "wrktalk_gcc_artifact_upload_bytes_total", "Bytes of the artifacts stored.", ["type"]
)

# Set from the database before each scrape; in multiprocess mode the latest value wins.
DELIVERIES_DUE = Gauge(
    "wrktalk_gcc_webhook_deliveries_due",
    "Webhooks due now (their next attempt time reached) and not yet sent successfully.",
    multiprocess_mode="mostrecent",
)
DELIVERIES_WAITING_RETRY = Gauge(
    "wrktalk_gcc_webhook_deliveries_waiting_retry",
    "Webhooks that failed at least once and wait for another attempt.",
    multiprocess_mode="mostrecent",
)
OLDEST_PENDING_DELIVERY_AGE = Gauge(
    "wrktalk_gcc_webhook_oldest_pending_age_seconds",
    "Age of the oldest webhook neither acknowledged nor failed (0 when none is pending).",
    multiprocess_mode="mostrecent",
)
ORGANIZATIONS = Gauge(
    "wrktalk_gcc_organizations",
    "Active organizations by health state.",
    ["health"],
    multiprocess_mode="mostrecent",
)
ESCALATIONS_OPEN = Gauge(
    "wrktalk_gcc_escalations_open",
    "Unresolved escalations by type.",
    ["type"],
    multiprocess_mode="mostrecent",
)
OLDEST_OPEN_ESCALATION_AGE = Gauge(
    "wrktalk_gcc_escalation_oldest_open_age_seconds",
    "Age of the oldest unresolved escalation of each type (0 when none is open).",
    ["type"],
    multiprocess_mode="mostrecent",
)
RELEASES = Gauge(
    "wrktalk_gcc_releases", "Releases by state.", ["status"], multiprocess_mode="mostrecent"
)
DEPLOYMENT_TARGETS = Gauge(
    "wrktalk_gcc_deployment_targets",
    "Deployment targets of published releases by deployment status.",
    ["status"],
    multiprocess_mode="mostrecent",
)
