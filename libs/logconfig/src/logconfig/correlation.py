"""Log lines that join their trace and their work: trace ids and the ids of what is worked on.

:func:`add_trace_context` is a structlog processor that puts the current trace's ids beside
each event's own fields; :func:`log_context` binds the ids of a piece of work (a release, an
organization, a task) to every line logged inside it, so a search for a trace id or for a
release id finds the same lines in every tier.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from uuid import UUID

import structlog
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


@contextmanager
def log_context(**ids: str | UUID | None) -> Iterator[None]:
    """Add ``ids`` (``release_id=...``, ``task_id=...``) to every line logged in the block.

    Ids that are None are left out; UUIDs are written as strings. A field an event gives
    itself wins. The binding is the current context's (an asyncio task's own), and the ids
    bound before the block are back when it ends.
    """
    fields = {key: str(value) for key, value in ids.items() if value is not None}
    # tokens put back exactly what was bound before, at a quarter of bound_contextvars' cost
    # (it copies the whole context): this runs in every agent poll that takes a task
    tokens = structlog.contextvars.bind_contextvars(**fields)
    try:
        yield
    finally:
        structlog.contextvars.reset_contextvars(**tokens)
