"""The caller's trace for requests that no server span records.

FastAPI's own OpenTelemetry support gives a request its server span, under the caller's
``traceparent``, while spans are recorded (an OTLP endpoint is set, or a test records). When
they are not, starting its spans for every request (a heartbeat too) would cost more than the
request's own work; :class:`TraceContextMiddleware` then only makes the caller's context
current, so log lines carry its trace id and whatever the request stores or sends on (a task,
a report) continues that trace. A request without the header costs one look at its headers.
"""

from __future__ import annotations

from typing import Any

from opentelemetry import context as context_api
from opentelemetry import trace

from telemetry.tracing import TRACEPARENT_HEADER, context_from_traceparent

_HEADER = TRACEPARENT_HEADER.encode()


class TraceContextMiddleware:
    """Wraps an ASGI app: an HTTP request without a current span runs in its caller's trace."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and not trace.get_current_span().get_span_context().is_valid:
            for key, value in scope.get("headers", ()):
                if key == _HEADER:
                    caller = context_from_traceparent(value.decode("latin-1"))
                    if caller is not None:
                        token = context_api.attach(caller)
                        try:
                            await self.app(scope, receive, send)
                        finally:
                            context_api.detach(token)
                        return
                    break
        await self.app(scope, receive, send)
