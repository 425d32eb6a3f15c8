"""Tracing: spans continue a traceparent, ids flow without export, log lines carry them."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from logconfig import configure_logging, get_logger, logging_restored
from telemetry import (
    TraceContextMiddleware,
    configure_tracing,
    context_from_traceparent,
    current_traceparent,
    inject_traceparent,
    recording,
    span,
    start_span,
    trace_fields,
    traceparent_of,
)

UPSTREAM = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
UPSTREAM_TRACE = int("0af7651916cd43dd8448eb211c80319c", 16)
UPSTREAM_SPAN = int("b7ad6b7169203331", 16)


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    with recording(exporter):
        yield exporter


def test_a_span_under_a_stored_traceparent_continues_its_trace(
    exporter: InMemorySpanExporter,
) -> None:
    with span("release.download", parent=UPSTREAM):
        passed_on = current_traceparent()

    [finished] = exporter.get_finished_spans()
    assert finished.name == "release.download"
    assert finished.context.trace_id == UPSTREAM_TRACE
    assert finished.parent is not None
    assert finished.parent.span_id == UPSTREAM_SPAN
    assert passed_on == f"00-{UPSTREAM_TRACE:032x}-{finished.context.span_id:016x}-01"


def test_a_span_without_a_parent_nests_in_the_current_one(exporter: InMemorySpanExporter) -> None:
    with span("outer"), span("inner"):
        pass

    inner, outer = exporter.get_finished_spans()
    assert inner.parent is not None
    assert inner.parent.span_id == outer.context.span_id
    assert outer.parent is None


@pytest.mark.parametrize(
    "malformed", ["", "garbage", "00-" + "0" * 32 + "-b7ad6b7169203331-01", "00-abc-def-01"]
)
def test_a_malformed_traceparent_starts_a_new_trace(
    exporter: InMemorySpanExporter, malformed: str
) -> None:
    assert context_from_traceparent(malformed) is None
    with span("release.intake", parent=malformed):
        pass

    [finished] = exporter.get_finished_spans()
    assert finished.parent is None
    assert finished.context.trace_id != UPSTREAM_TRACE


def test_an_exception_leaving_a_span_marks_it_failed(exporter: InMemorySpanExporter) -> None:
    with pytest.raises(RuntimeError), span("agent.task"):
        raise RuntimeError("helm exploded")

    [finished] = exporter.get_finished_spans()
    assert not finished.status.is_ok
    assert [event.name for event in finished.events] == ["exception"]


def test_outside_any_span_nothing_is_injected() -> None:
    headers: dict[str, str] = {}
    inject_traceparent(headers)
    assert headers == {}
    assert current_traceparent() is None


def test_without_an_endpoint_spans_are_not_recorded_but_ids_still_flow() -> None:
    exporter = InMemorySpanExporter()
    with recording(exporter):
        # what a process without GCC_OTLP_ENDPOINT runs with, inside the recording block
        assert configure_tracing(service="tests", endpoint=None) is False
        with span("release.publish", parent=UPSTREAM) as current:
            assert not current.is_recording()
            passed_on = current_traceparent()
    assert exporter.get_finished_spans() == ()
    assert passed_on is not None
    assert passed_on.startswith(f"00-{UPSTREAM_TRACE:032x}-")
    assert passed_on.split("-")[2] != f"{UPSTREAM_SPAN:016x}"


def test_a_started_span_continues_its_parent_without_becoming_current(
    exporter: InMemorySpanExporter,
) -> None:
    started = start_span("webhook.delivery", parent=context_from_traceparent(UPSTREAM))
    assert current_traceparent() is None, "not made the current span"
    passed_on = traceparent_of(started)
    started.end()

    [finished] = exporter.get_finished_spans()
    assert finished.name == "webhook.delivery"
    assert finished.parent is not None
    assert finished.parent.span_id == UPSTREAM_SPAN
    assert passed_on == f"00-{UPSTREAM_TRACE:032x}-{finished.context.span_id:016x}-01"


def test_an_unrecorded_started_span_still_has_its_own_id() -> None:
    exporter = InMemorySpanExporter()
    with recording(exporter):
        configure_tracing(service="tests", endpoint=None)
        first = start_span("webhook.delivery", parent=context_from_traceparent(UPSTREAM))
        second = start_span("webhook.delivery", parent=context_from_traceparent(UPSTREAM))
        first.end()
        second.end()
    assert exporter.get_finished_spans() == ()
    ids = [traceparent_of(started) for started in (first, second)]
    assert all(value and value.startswith(f"00-{UPSTREAM_TRACE:032x}-") for value in ids)
    assert len({value.split("-")[2] for value in ids if value}) == 2
    assert f"{UPSTREAM_SPAN:016x}" not in {value.split("-")[2] for value in ids if value}


def test_log_lines_inside_a_span_carry_its_trace_and_span_ids(
    exporter: InMemorySpanExporter,
) -> None:
    stream = io.StringIO()
    with logging_restored():
        configure_logging(stream=stream)
        log = get_logger("tests")
        log.info("outside.span.logged")
        with span("release.download", parent=UPSTREAM) as current:
            log.info("inside.span.logged", release_id="r-1")
            span_id = current.get_span_context().span_id
    outside, inside = (json.loads(line) for line in stream.getvalue().splitlines())
    assert "trace_id" not in outside
    assert inside["trace_id"] == f"{UPSTREAM_TRACE:032x}"
    assert inside["span_id"] == f"{span_id:016x}"
    assert inside["release_id"] == "r-1"


async def test_concurrent_spans_keep_their_own_parents(exporter: InMemorySpanExporter) -> None:
    async def child(name: str) -> None:
        with span(name):
            await asyncio.sleep(0)

    with span("webhook.batch"):
        await asyncio.gather(child("one"), child("two"))

    spans = {finished.name: finished for finished in exporter.get_finished_spans()}
    batch = spans["webhook.batch"].context.span_id
    parents = [spans[name].parent for name in ("one", "two")]
    assert [parent.span_id if parent else None for parent in parents] == [batch, batch]


async def _echo_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    with span("release.intake"):
        body = json.dumps({"caller": current_traceparent()}).encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


async def _call(headers: dict[str, str]) -> str | None:
    transport = httpx.ASGITransport(app=TraceContextMiddleware(_echo_app))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        answer = await client.post("/api/deployment/webhook", headers=headers)
    caller: str | None = answer.json()["caller"]
    return caller


async def test_without_recording_a_request_continues_its_callers_trace() -> None:
    configure_tracing(service="tests", endpoint=None)

    inside = await _call({"traceparent": UPSTREAM})

    assert inside is not None
    assert inside.startswith(f"00-{UPSTREAM_TRACE:032x}-")
    assert inside.split("-")[2] != f"{UPSTREAM_SPAN:016x}"


async def test_a_request_without_a_traceparent_starts_its_own_trace() -> None:
    configure_tracing(service="tests", endpoint=None)

    inside = await _call({"traceparent": "not-a-traceparent"})

    assert inside is not None
    assert f"{UPSTREAM_TRACE:032x}" not in inside


async def test_the_middleware_passes_other_scopes_through() -> None:
    seen: list[str] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    await TraceContextMiddleware(app)({"type": "lifespan"}, None, None)
    assert seen == ["lifespan"]


def test_trace_fields_name_the_ids_of_a_traceparent_for_a_later_log_line() -> None:
    assert trace_fields(UPSTREAM) == {
        "trace_id": f"{UPSTREAM_TRACE:032x}",
        "span_id": f"{UPSTREAM_SPAN:016x}",
    }
    assert trace_fields(None) == {}
    assert trace_fields("00-not-a-traceparent") == {}
