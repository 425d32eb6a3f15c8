"""OpenTelemetry tracing for every tier: one trace follows a release from GCC to the agent.

Call :func:`configure_tracing` once at process start (the OTLP endpoint is optional: without
it spans are not exported, but trace ids still flow so log lines join). Wrap a piece of work
in :func:`span`, continuing a stored or received ``traceparent``::

    with span("webhook.delivery", parent=release.trace_parent) as current:
        inject_traceparent(headers)

While spans are recorded, FastAPI's own OpenTelemetry support gives each request its server
span under the caller's ``traceparent``; otherwise :class:`TraceContextMiddleware` only makes
the caller's context current.
"""

from opentelemetry.trace import SpanKind, StatusCode

from telemetry.asgi import TraceContextMiddleware
from telemetry.tracing import (
    TRACEPARENT_HEADER,
    configure_tracing,
    context_from_headers,
    context_from_traceparent,
    current_traceparent,
    inject_traceparent,
    is_recording,
    recording,
    span,
    start_span,
    trace_fields,
    traceparent_of,
    tracer,
)

__all__ = [
    "TRACEPARENT_HEADER",
    "SpanKind",
    "StatusCode",
    "TraceContextMiddleware",
    "configure_tracing",
    "context_from_headers",
    "context_from_traceparent",
    "current_traceparent",
    "inject_traceparent",
    "is_recording",
    "recording",
    "span",
    "start_span",
    "trace_fields",
    "traceparent_of",
    "tracer",
]
