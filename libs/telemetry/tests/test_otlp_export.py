"""With an OTLP endpoint, spans go over OTLP/HTTP to the collector there; without one, nothing
is sent. The collector is a real HTTP server on loopback that decodes what arrives."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from telemetry import configure_tracing, current_traceparent, is_recording, span
from testsupport.otlp import Collector, running_collector

UPSTREAM_TRACE = "0af7651916cd43dd8448eb211c80319c"
UPSTREAM_SPAN = "b7ad6b7169203331"
UPSTREAM = f"00-{UPSTREAM_TRACE}-{UPSTREAM_SPAN}-01"


@pytest.fixture
def collector() -> Iterator[Collector]:
    with running_collector() as running:
        yield running


def _traced_work() -> str | None:
    """A release's publication with one delivery, and an agent task that fails."""
    with (
        span("release.publish", parent=UPSTREAM, attributes={"release.version": "2.3.0"}),
        span("webhook.delivery"),
    ):
        passed_on = current_traceparent()
    with pytest.raises(RuntimeError), span("agent.task"):
        raise RuntimeError("helm exploded")
    return passed_on


@pytest.mark.parametrize("suffix", ["", "/"])
def test_with_an_endpoint_every_span_reaches_the_collector_in_its_trace(
    collector: Collector, suffix: str
) -> None:
    try:
        assert configure_tracing(service="tests", endpoint=collector.url + suffix) is True
        assert is_recording()
        passed_on = _traced_work()
    finally:
        # switching the endpoint off shuts the batch processor down, which sends what it holds
        configure_tracing(service="tests", endpoint=None)

    spans = {received.name: received for received in collector.wait_for(3)}
    assert sorted(spans) == ["agent.task", "release.publish", "webhook.delivery"]
    publish, delivery = spans["release.publish"], spans["webhook.delivery"]
    task = spans["agent.task"]
    assert (publish.trace_id, publish.parent_span_id) == (UPSTREAM_TRACE, UPSTREAM_SPAN)
    assert publish.attributes == {"release.version": "2.3.0"}
    assert (delivery.trace_id, delivery.parent_span_id) == (UPSTREAM_TRACE, publish.span_id)
    assert passed_on == f"00-{UPSTREAM_TRACE}-{delivery.span_id}-01"
    assert task.parent_span_id == ""
    assert task.trace_id != UPSTREAM_TRACE
    assert task.is_error
    assert not publish.is_error
    assert collector.refused == 0


def test_without_an_endpoint_nothing_is_sent(collector: Collector) -> None:
    try:
        assert configure_tracing(service="tests", endpoint=collector.url) is True
    finally:
        assert configure_tracing(service="tests", endpoint=None) is False
    assert not is_recording()

    passed_on = _traced_work()

    assert passed_on is not None
    assert passed_on.startswith(f"00-{UPSTREAM_TRACE}-")
    assert passed_on.endswith("-00"), "not sampled: nobody records it"
    assert collector.requests == 0
    assert collector.spans == []
