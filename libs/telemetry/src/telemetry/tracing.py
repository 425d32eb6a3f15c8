"""One tracer provider per process, exporting over OTLP only when an endpoint is configured.

Every process installs the SDK's tracer provider with :func:`configure_tracing`. Without an
endpoint its spans are not recorded (a sampler that drops them), yet each still gets its trace
and span ids, so the W3C ``traceparent`` a tier passes on and the ids in every log line join
one release's work across the GCC, the customer backend and the agent. With an endpoint every
span is recorded and sent in batches to the OTLP/HTTP collector there.

The provider is installed once; what it samples and where its spans go can be switched later
(:func:`configure_tracing` again, or :func:`recording` in tests), because OpenTelemetry refuses
to replace a process's provider.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from contextlib import contextmanager
from typing import Final

from opentelemetry import context as context_api
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    Sampler,
    SamplingResult,
)
from opentelemetry.trace import Link, SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.trace.span import TraceState
from opentelemetry.util.types import Attributes

TRACEPARENT_HEADER: Final = "traceparent"
"""The W3C Trace Context header (``00-<trace id>-<span id>-<flags>``)."""
TRACER_NAME: Final = "wrktalk"

_PROPAGATOR = TraceContextTextMapPropagator()


class _SwitchableSampler(Sampler):
    """Delegates to the sampler of the moment: nothing recorded, or everything."""

    def __init__(self) -> None:
        self.current: Sampler = ALWAYS_OFF

    def should_sample(
        self,
        parent_context: context_api.Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        return self.current.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )

    def get_description(self) -> str:
        return f"Switchable{{{self.current.get_description()}}}"


class _SwitchableProcessor(SpanProcessor):
    """Hands ended spans to the processor of the moment (none: they are dropped)."""

    def __init__(self) -> None:
        self.current: SpanProcessor | None = None

    def on_start(self, span: Span, parent_context: context_api.Context | None = None) -> None:
        current = self.current
        if current is not None:
            current.on_start(span, parent_context=parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        current = self.current
        if current is not None:
            current.on_end(span)

    def shutdown(self) -> None:
        if self.current is not None:
            self.current.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.current.force_flush(timeout_millis) if self.current is not None else True


class _Installed:
    """The process's provider and the switches of what it samples and where spans go."""

    def __init__(self, service: str) -> None:
        self.sampler = _SwitchableSampler()
        self.processor = _SwitchableProcessor()
        self.provider = TracerProvider(
            sampler=self.sampler, resource=Resource.create({"service.name": service})
        )
        self.provider.add_span_processor(self.processor)


_lock = threading.Lock()
_installed: _Installed | None = None


def _install(service: str) -> _Installed:
    """Install this module's provider as the process's, once (later calls return it)."""
    global _installed
    with _lock:
        if _installed is None:
            installed = _Installed(service)
            trace.set_tracer_provider(installed.provider)
            _installed = installed
        return _installed


def configure_tracing(*, service: str, endpoint: str | None) -> bool:
    """Give the process trace ids, and export its spans to ``endpoint`` when one is given.

    ``endpoint`` is an OTLP/HTTP collector's base URL (``http://collector:4318``); spans go
    to its ``/v1/traces`` in batches from a background thread. Without it spans are neither
    recorded nor sent. ``service`` names the process in the exported spans (the first call
    names it for the process's life). Returns whether spans are exported.
    """
    installed = _install(service)
    previous = installed.processor.current
    if endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=f"{endpoint.rstrip('/')}/v1/traces")
        installed.processor.current = BatchSpanProcessor(exporter)
        installed.sampler.current = ALWAYS_ON
    else:
        installed.processor.current = None
        installed.sampler.current = ALWAYS_OFF
    if previous is not None:
        previous.shutdown()
    return bool(endpoint)


@contextmanager
def recording(exporter: SpanExporter, *, service: str = "tests") -> Iterator[None]:
    """Record every span while the block runs and hand each to ``exporter`` as it ends.

    For tests, with the SDK's ``InMemorySpanExporter``; what was configured before is back
    when the block ends.
    """
    installed = _install(service)
    previous_processor, previous_sampler = installed.processor.current, installed.sampler.current
    installed.processor.current = SimpleSpanProcessor(exporter)
    installed.sampler.current = ALWAYS_ON
    try:
        yield
    finally:
        installed.processor.current = previous_processor
        installed.sampler.current = previous_sampler


def is_recording() -> bool:
    """Whether spans are recorded (and so exported, or kept by a test) right now."""
    installed = _installed
    return installed is not None and installed.sampler.current is ALWAYS_ON


# Looked up once: the global provider's ``get_tracer`` builds a new tracer on every call, which
# cost a tenth of a webhook delivery's CPU. A tracer taken before a provider is installed is a
# proxy that binds to the provider once one is.
_TRACER: Final = trace.get_tracer(TRACER_NAME)


def tracer() -> trace.Tracer:
    """The tracer every span of the project is started with."""
    return _TRACER


def current_traceparent() -> str | None:
    """The ``traceparent`` of the current span, or None outside any span."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier.get(TRACEPARENT_HEADER)


def trace_fields(traceparent: str | None) -> dict[str, str]:
    """The ``trace_id`` and ``span_id`` a ``traceparent`` names, as log fields (none for a
    missing or malformed one): for lines logged after the span ended, such as outcomes
    written in a batch, so they still join their trace."""
    if context_from_traceparent(traceparent) is None:
        return {}
    assert traceparent is not None
    _, trace_id, span_id, _ = traceparent.split("-", 3)
    return {"trace_id": trace_id, "span_id": span_id}


def inject_traceparent(headers: MutableMapping[str, str]) -> None:
    """Add the current span's ``traceparent`` to ``headers`` (nothing outside any span)."""
    traceparent = current_traceparent()
    if traceparent is not None:
        headers[TRACEPARENT_HEADER] = traceparent


def context_from_traceparent(traceparent: str | None) -> context_api.Context | None:
    """The context a ``traceparent`` names, or None when it is missing or malformed."""
    if not traceparent:
        return None
    extracted = _PROPAGATOR.extract({TRACEPARENT_HEADER: traceparent})
    if not trace.get_current_span(extracted).get_span_context().is_valid:
        return None
    return extracted


def context_from_headers(headers: Mapping[str, str]) -> context_api.Context | None:
    """The context of a request's ``traceparent`` header, or None."""
    return context_from_traceparent(headers.get(TRACEPARENT_HEADER))


def traceparent_of(current: trace.Span) -> str | None:
    """The ``traceparent`` that names ``current`` (None for an invalid span)."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier, context=trace.set_span_in_context(current))
    return carrier.get(TRACEPARENT_HEADER)


def start_span(
    name: str,
    *,
    parent: context_api.Context | None,
    kind: SpanKind = SpanKind.INTERNAL,
    attributes: Attributes = None,
) -> trace.Span:
    """Start a span under ``parent`` (see :func:`context_from_traceparent`) without making it
    current; the caller ends it. For work done many times a second that only hands the span's
    id on (:func:`traceparent_of`): entering and leaving the current context for each would
    cost more than the rest of the span.
    """
    return tracer().start_span(name, context=parent, kind=kind, attributes=attributes)


@contextmanager
def span(
    name: str,
    *,
    parent: str | None = None,
    kind: SpanKind = SpanKind.INTERNAL,
    attributes: Attributes = None,
) -> Iterator[trace.Span]:
    """Run the block in a new current span named ``name`` (``domain.action``).

    Its parent is the span ``parent`` (a stored or received ``traceparent``) names when it is
    a valid one, else the current span; with neither it starts a trace. An exception leaving
    the block is recorded on the span and marks it as an error.
    """
    context = context_from_traceparent(parent)
    with tracer().start_as_current_span(
        name, context=context, kind=kind, attributes=attributes
    ) as current:
        yield current
