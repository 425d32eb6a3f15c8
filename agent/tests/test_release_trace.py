"""One release, one trace: GCC's publication, its webhook, the backend's intake and download,
the agent's task and its report back to GCC, each tier served for real on loopback; every
line the tiers log in that work carries the trace id beside the release, task and
organization ids.

The three tiers run in this process, so the SDK's in-memory exporter sees every span; they
pass the trace to each other only as a real deployment does, through ``traceparent`` in
HTTP headers, in stored rows and in the agent's poll answer.
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agent.tests.support.helm_stand_in import HELM4_VERSION, HelmStandIn, release_json
from customer_backend.intake import download
from customer_backend.reporting.service import flush_outbox
from customer_backend.runtime import open_runtime as open_backend_runtime
from customer_backend.settings import Settings as BackendSettings
from gcc.delivery.pump import deliver_due
from gcc.runtime import open_runtime as open_gcc_runtime
from gcc.settings import Settings as GccSettings
from logconfig import configure_logging, logging_restored
from telemetry import recording
from testsupport.backend_fixtures import AdminFactory
from testsupport.gcc_fixtures import TaskRecorder
from timekeeping import ManualClock
from wrktalk_agent.agent import Agent, OnceExit

AgentFactory = Callable[..., Agent]
StandInFactory = Callable[[str], HelmStandIn]

VERSION = "2.3.0"
REPORT_AT_GCC = "POST /api/v1/deployments/status"


async def _publish(client: httpx.AsyncClient, headers: dict[str, str], chart: bytes) -> None:
    uploaded = await client.post(
        "/api/internal/artifacts",
        files={"file": ("chart.tgz", chart)},
        data={"type": "helm", "version": VERSION},
        headers=headers,
    )
    assert uploaded.status_code == 200, uploaded.text
    created = await client.post(
        "/api/internal/releases",
        json={
            "version": VERSION,
            "imageTags": {
                "backend": "sha-b",
                "media": "sha-m",
                "controlTower": "sha-c",
                "agent": "sha-a",
            },
            "releaseNotes": "Traced",
        },
        headers=headers,
    )
    assert created.status_code == 200, created.text
    published = await client.post(f"/api/internal/releases/{VERSION}/publish", headers=headers)
    assert published.status_code == 200, published.text


def _ancestry(span: ReadableSpan, spans: Sequence[ReadableSpan]) -> list[str]:
    """The names from ``span`` up through its parents to the trace's root, without FastAPI's
    spans of a request's dependencies, endpoint and serialization (between a request's span
    and the work its endpoint does)."""
    by_id = {finished.context.span_id: finished for finished in spans}
    names = [span.name]
    while span.parent is not None:
        span = by_id[span.parent.span_id]
        names.append(span.name)
    return [name for name in names if not name.startswith("fastapi.")]


async def test_one_release_is_one_trace_from_publish_to_the_agents_report_at_gcc(
    gcc_client: httpx.AsyncClient,
    ci_headers: dict[str, str],
    backend_client: httpx.AsyncClient,
    backend_settings: BackendSettings,
    backend_task_recorder: TaskRecorder,
    gcc_settings: GccSettings,
    gcc_clock: ManualClock,
    admin_factory: AdminFactory,
    make_agent: AgentFactory,
    helm_stand_in: StandInFactory,
    helm_charts: dict[str, Path],
) -> None:
    exporter = InMemorySpanExporter()
    lines = io.StringIO()
    with logging_restored(), recording(exporter):
        configure_logging(stream=lines)
        await _publish(gcc_client, ci_headers, helm_charts[VERSION].read_bytes())
        gcc_tasks = TaskRecorder()
        async with open_gcc_runtime(gcc_settings, clock=gcc_clock, send_task=gcc_tasks) as gcc:
            assert (await deliver_due(gcc)).acknowledged == 1
        [(_, (deployment_id,), _)] = backend_task_recorder.sent
        async with open_backend_runtime(
            backend_settings, clock=gcc_clock, send_task=TaskRecorder()
        ) as backend:
            outcome = await download.download_release(
                runtime=backend, deployment_id=uuid.UUID(deployment_id)
            )
            assert outcome is download.DownloadOutcome.DOWNLOADED
            admin = await admin_factory()
            scheduled = await backend_client.post(
                "/api/admin/deployment/schedule",
                json={"deploymentId": deployment_id, "scheduledFor": gcc_clock.now().isoformat()},
                headers=admin.headers,
            )
            assert scheduled.status_code == 200, scheduled.text
            helm = helm_stand_in(HELM4_VERSION)
            helm.play("upgrade", stdout=release_json(5, VERSION))
            assert await make_agent().run_once() is OnceExit.COMPLETED
            assert (await flush_outbox(runtime=backend)).sent >= 2

    spans = exporter.get_finished_spans()
    report = next(
        span for span in reversed(spans) if span.name == REPORT_AT_GCC and span.resource is not None
    )
    assert _ancestry(report, spans) == [
        REPORT_AT_GCC,
        "report.send",
        "POST /internal/agent/tasks/{taskId}/status",
        "agent.task",
        "task.hand_out",
        "release.download",
        "release.intake",
        "POST /api/deployment/webhook",
        "webhook.delivery",
        "release.publish",
        "POST /api/internal/releases/{version}/publish",
    ]
    trace_id = report.context.trace_id
    release_spans = [span for span in spans if span.context.trace_id == trace_id]
    # the agent's log batches, and the report that an admin scheduled the release, join it
    assert {"POST /internal/agent/tasks/{taskId}/logs", "agent.task"} <= {
        span.name for span in release_spans
    }
    scheduled = next(span for span in spans if span.name == "POST /api/v1/deployments/scheduled")
    assert _ancestry(scheduled, spans)[:3] == [
        "POST /api/v1/deployments/scheduled",
        "report.send",
        "release.download",
    ]
    assert scheduled.context.trace_id == trace_id
    _assert_logs_carry_the_trace(lines.getvalue(), trace_id)


# Each event of the release's work, in every tier, with the ids it must carry beside the trace's.
RELEASE, DEPLOYMENT, TASK, ORGANIZATION = (
    "release_id",
    "deployment_id",
    "task_id",
    "organization_id",
)
CORRELATED_EVENTS = {
    "release.publish.completed": {RELEASE},
    "intake.webhook.received": {RELEASE},
    "intake.download.succeeded": {RELEASE, DEPLOYMENT},
    "task.claim.succeeded": {TASK, DEPLOYMENT},
    "agent.task.claimed": {TASK, DEPLOYMENT},
    "task.started": {TASK, DEPLOYMENT},
    "command.started": {TASK, DEPLOYMENT},
    "command.finished": {TASK, DEPLOYMENT},
    "task.completion.recorded": {TASK, DEPLOYMENT},
    "task.finished": {TASK, DEPLOYMENT},
    "deployments.status.recorded": {RELEASE, ORGANIZATION},
}
PROJECT_LOGGERS = ("gcc.", "customer_backend.", "wrktalk_agent.")


def _assert_logs_carry_the_trace(output: str, trace_id: int) -> None:
    """Every line the tiers log in the release's work has its trace id next to the ids of
    what it works on, and the ids agree across the tiers."""
    trace_hex = f"{trace_id:032x}"
    events: dict[str, list[dict[str, Any]]] = {}
    for line in output.splitlines():
        event = json.loads(line)
        events.setdefault(event["event"], []).append(event)
    seen: dict[str, set[str]] = {RELEASE: set(), DEPLOYMENT: set(), TASK: set()}
    for name, ids in CORRELATED_EVENTS.items():
        assert name in events, f"no {name} event was logged"
        for event in events[name]:
            assert event.get("trace_id") == trace_hex, event
            assert len(event["span_id"]) == 16
            assert ids <= {key for key, value in event.items() if value}, event
            for key in seen.keys() & ids:
                seen[key].add(event[key])
    assert all(len(values) == 1 for values in seen.values()), seen
    in_trace = [
        event
        for named in events.values()
        for event in named
        if event.get("trace_id") == trace_hex and event["logger"].startswith(PROJECT_LOGGERS)
    ]
    for event in in_trace:
        # GCC's audit trail names a release by its version, as "release"
        named = {RELEASE, TASK, ORGANIZATION, DEPLOYMENT, "version", "release"}
        assert named & {key for key, value in event.items() if value}, event
