"""A structlog processor that puts the current trace's ids beside each event's own fields."""

from __future__ import annotations

from opentelemetry import trace
from structlog.typing import EventDict, WrappedLogger


def add_trace_context(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    """Add ``trace_id`` and ``span_id`` (lower-case hex, as in ``traceparent``) of the span
    current where the event is logged; an event outside any span is left as it is.

    A trace search for the ids finds the log lines, and the log lines of one release in
    every tier share its trace id.
    """
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event_dict.setdefault("trace_id", format(context.trace_id, "032x"))
        event_dict.setdefault("span_id", format(context.span_id, "016x"))
    return event_dict
