"""An OTLP/HTTP trace collector served on loopback, for tests of the span export.

It is a real HTTP server in a thread of the test process: it takes what an exporter POSTs to
``/v1/traces``, decodes the protobuf ``ExportTraceServiceRequest`` with the
``opentelemetry-proto`` package (the OTLP exporter's own dependency), keeps every span with its
process's ``service.name``, and answers as a collector does. Anything else is a 404 or 400,
which an exporter would log and drop.
"""

from __future__ import annotations

import gzip
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

TRACES_PATH = "/v1/traces"


@dataclass(frozen=True)
class CollectedSpan:
    """One span as it arrived: ids in the lower-case hex of ``traceparent``."""

    service: str
    name: str
    trace_id: str
    span_id: str
    parent_span_id: str
    attributes: dict[str, Any]
    is_error: bool


class Collector:
    """What the server received; :meth:`wait_for` blocks until enough spans arrived."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.spans: list[CollectedSpan] = []
        self.requests = 0
        self.refused = 0
        self._arrived = threading.Condition()

    def wait_for(self, count: int, *, timeout: float = 30) -> list[CollectedSpan]:
        """The spans received once there are at least ``count`` (fails after ``timeout`` s)."""
        with self._arrived:
            arrived = self._arrived.wait_for(lambda: len(self.spans) >= count, timeout=timeout)
            assert arrived, f"{len(self.spans)} spans arrived, {count} expected"
            return list(self.spans)

    def take(self, body: bytes) -> None:
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        received = [
            _collected(resource_spans, span)
            for resource_spans in request.resource_spans
            for scope_spans in resource_spans.scope_spans
            for span in scope_spans.spans
        ]
        with self._arrived:
            self.requests += 1
            self.spans.extend(received)
            self._arrived.notify_all()


def _value(any_value: Any) -> Any:
    kind = any_value.WhichOneof("value")
    return getattr(any_value, kind) if kind else None


def _collected(resource_spans: Any, span: Any) -> CollectedSpan:
    resource = {item.key: _value(item.value) for item in resource_spans.resource.attributes}
    return CollectedSpan(
        service=str(resource.get("service.name")),
        name=span.name,
        trace_id=span.trace_id.hex(),
        span_id=span.span_id.hex(),
        parent_span_id=span.parent_span_id.hex(),
        attributes={item.key: _value(item.value) for item in span.attributes},
        # STATUS_CODE_ERROR
        is_error=span.status.code == 2,
    )


def _decompressed(body: bytes, encoding: str | None) -> bytes:
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "deflate":
        return zlib.decompress(body)
    return body


def _handler(collector: Collector) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.path != TRACES_PATH:
                self._answer(404, b"")
                return
            try:
                collector.take(_decompressed(body, self.headers.get("Content-Encoding")))
            except (DecodeError, OSError, zlib.error):
                collector.refused += 1
                self._answer(400, b"")
                return
            self._answer(200, ExportTraceServiceResponse().SerializeToString())

        def _answer(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the test's own output is the collected spans."""

    return Handler


@contextmanager
def running_collector() -> Iterator[Collector]:
    """Serve a collector on a free loopback port while the block runs; its ``url`` is the
    base URL an exporter is configured with (``http://127.0.0.1:PORT``)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    collector = Collector(f"http://127.0.0.1:{server.server_address[1]}")
    server.RequestHandlerClass = _handler(collector)
    thread = threading.Thread(target=server.serve_forever, name="otlp-collector", daemon=True)
    thread.start()
    try:
        yield collector
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
