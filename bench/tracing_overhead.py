"""What tracing adds to a heartbeat, in server CPU, with and without an OTLP endpoint.

Four ``gcc serve`` processes (one uvicorn worker each) on one scratch database with a fleet,
measured in turn at the same fixed heartbeat rate (open loop, :mod:`loadgen`), ``--rounds``
times so that other work on the machine weighs on all alike:

* ``untraced``: no tracer provider installed, as before tracing;
* ``ids``: the default, no ``GCC_OTLP_ENDPOINT``: the SDK's provider is installed, nothing is
  recorded, a request with a ``traceparent`` runs in its caller's trace
  (``telemetry.TraceContextMiddleware``);
* ``exported``: ``GCC_OTLP_ENDPOINT`` set to a local OTLP/HTTP sink in this process; fleet
  heartbeats stay untraced (they belong to no release), so this is what exporting costs them;
* ``traced``: as ``exported``, with heartbeats traced like any other request: FastAPI's server
  span and its dependency, endpoint and serialization spans, recorded and sent in batches.
  What a traced request (a publish, a delivery's intake, an agent's report) pays.

It prints the server CPU per heartbeat of each and the ratio to ``untraced`` (the metrics'
budget of 5% per heartbeat is the yardstick for ``ids`` and ``exported``). On a busy machine
those differ by more than tracing adds, so it first prints a steadier figure: the CPU the
shell's tracing adds to one request of a FastAPI app with an empty endpoint, called in process
through ASGI ``--calls`` times, untraced and in each mode (``--in-process-only`` stops there).

    uv run python bench/tracing_overhead.py [--organizations 10000] [--rate 500]
        [--seconds 10] [--rounds 3]  (--rate 300 by default)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import gcc_heartbeat
from gcc_fleet import insert_fleet, scratch_database
from gcc_heartbeat import heartbeat_request, stop, wait_until_up
from loadgen import CpuMeter, open_loop

from wrktalk_testing.network import free_port

# ``serve`` with one worker runs uvicorn in this interpreter, so the replaced function is the
# one the app factory calls.
UNTRACED = (
    "import servicekit.processes as processes\n"
    "processes.configure_tracing = lambda **_: False\n"
    "from gcc.cli import app\n"
    "app()\n"
)
TRACED = (
    "import servicekit.app as service_app\n"
    "shipped = service_app.request_tracing\n"
    "service_app.request_tracing = lambda untraced=None: shipped(None)\n"
    "from gcc.cli import app\n"
    "app()\n"
)
LAUNCHERS = {"untraced": UNTRACED, "traced": TRACED}


IN_PROCESS = """
import asyncio, time
from fastapi import FastAPI
from servicekit.app import request_tracing
from telemetry import TraceContextMiddleware, configure_tracing, recording
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

class Dropped(SpanExporter):
    def export(self, spans):
        return SpanExportResult.SUCCESS

mode = {mode!r}
if mode != "untraced":
    configure_tracing(service="bench", endpoint=None)
app = FastAPI(telemetry=request_tracing())

@app.post("/api/v1/organizations/{{name}}/heartbeat")
async def heartbeat(name: str) -> dict[str, str]:
    return {{"status": "received"}}

app.add_middleware(TraceContextMiddleware)
headers = [(b"authorization", b"Bearer gcc_x"), (b"content-type", b"application/json")]
if mode == "caller":
    headers.append((b"traceparent", b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"))
scope = {{"type": "http", "asgi": {{"version": "3.0"}}, "http_version": "1.1", "method": "POST",
         "scheme": "http", "path": "/api/v1/organizations/acme/heartbeat", "raw_path": b"",
         "root_path": "", "query_string": b"", "headers": headers,
         "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 2)}}

async def receive():
    return {{"type": "http.request", "body": b"{{}}", "more_body": False}}

async def send(message):
    pass

async def main(calls):
    for _ in range(calls):
        await app(dict(scope), receive, send)

asyncio.run(main(2000))
if mode == "recorded":
    with recording(Dropped()):
        started = time.process_time()
        asyncio.run(main({calls}))
        elapsed = time.process_time() - started
else:
    started = time.process_time()
    asyncio.run(main({calls}))
    elapsed = time.process_time() - started
print(elapsed / {calls} * 1e6)
"""
IN_PROCESS_MODES = {
    "untraced": "no provider installed, as before tracing",
    "ids": "provider installed, no endpoint (the default)",
    "caller": "as ids, the request carries a traceparent",
    "recorded": "spans recorded (an endpoint set), FastAPI's spans of the request",
}


def in_process(calls: int) -> None:
    """Microseconds of CPU per request of an empty endpoint, in each mode."""
    figures = {}
    for mode in IN_PROCESS_MODES:
        output = subprocess.run(
            [sys.executable, "-c", IN_PROCESS.format(mode=mode, calls=calls)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        figures[mode] = float(output.split()[-1])
    print(f"in process, {calls:,} requests of an empty endpoint each:")
    for mode, description in IN_PROCESS_MODES.items():
        added = figures[mode] - figures["untraced"]
        print(f"{mode:>9}: {figures[mode]:.1f} us/request ({added:+.1f} us; {description})")


class _Sink(BaseHTTPRequestHandler):
    """An OTLP/HTTP collector that takes every export and keeps only its size."""

    received = 0
    exports = 0

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", 0))
        self.rfile.read(length)
        type(self).received += length
        type(self).exports += 1
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return


@dataclass
class Mode:
    label: str
    base_url: str
    server: subprocess.Popen[bytes]
    cpu_seconds: float = 0.0
    answered: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def per_heartbeat_ms(self) -> float:
        return self.cpu_seconds / max(1, self.answered) * 1000


def start(url: str, label: str, sink_url: str) -> Mode:
    port = free_port()
    environment = {
        **os.environ,
        "GCC_DATABASE_URL": url,
        "GCC_LOG_LEVEL": "WARNING",
        "GCC_DATABASE_POOL_SIZE": "10",
    }
    environment.pop("GCC_OTLP_ENDPOINT", None)
    if label in {"exported", "traced"}:
        environment["GCC_OTLP_ENDPOINT"] = sink_url
    serve = ["serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    if label in LAUNCHERS:
        command = [sys.executable, "-c", LAUNCHERS[label], *serve]
    else:
        command = [sys.executable, "-m", "gcc.cli", *serve]
    server = subprocess.Popen(command, env=environment, start_new_session=True)
    base_url = f"http://127.0.0.1:{port}"
    wait_until_up(base_url, server, "/healthz")
    return Mode(label, base_url, server)


def measure_round(mode: Mode, options: argparse.Namespace) -> None:
    meter = CpuMeter(mode.server.pid)
    result = open_loop(
        mode.base_url,
        heartbeat_request,
        rate=options.rate,
        seconds=options.seconds,
        processes=1,
        connections=16,
        meters=[meter],
    )
    answered = len(result.latencies_ms)
    mode.cpu_seconds += meter.seconds
    mode.answered += answered
    if result.errors:
        mode.errors.append(str(result.errors))
    print(
        f"{mode.label:>9}: {answered:,} heartbeats, server CPU "
        f"{meter.seconds / max(1, answered) * 1000:.3f} ms/heartbeat, "
        f"p99 {result.percentile(0.99):.1f} ms (load average {os.getloadavg()[0]:.1f})",
        flush=True,
    )


def serve_and_measure(url: str, options: argparse.Namespace) -> None:
    sink = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    sink_url = f"http://127.0.0.1:{sink.server_address[1]}"
    modes: list[Mode] = []
    try:
        for label in ("untraced", "ids", "exported", "traced"):
            modes.append(start(url, label, sink_url))
        for _ in range(options.rounds):
            for mode in modes:
                measure_round(mode, options)
    finally:
        for mode in modes:
            stop(mode.server)
        sink.shutdown()
    anchor = modes[0].per_heartbeat_ms
    print(f"over {options.rounds} rounds at {options.rate:,.0f} heartbeats/s:")
    for mode in modes:
        print(
            f"{mode.label:>9}: {mode.per_heartbeat_ms:.3f} ms/heartbeat, "
            f"{mode.per_heartbeat_ms / anchor:.3f}x untraced "
            f"({(mode.per_heartbeat_ms - anchor) * 1000:+.0f} us)"
            + (f", errors {mode.errors}" if mode.errors else "")
        )
    print(f"the sink took {_Sink.exports:,} exports, {_Sink.received / 1e6:.1f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--organizations", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=300)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--in-process-only", action="store_true")
    options = parser.parse_args()
    in_process(options.calls)
    if options.in_process_only:
        return
    gcc_heartbeat.ORGANIZATIONS = options.organizations
    # the load processes import gcc_heartbeat afresh: they read the fleet's size from here
    os.environ["BENCH_ORGANIZATIONS"] = str(options.organizations)

    async def with_database() -> None:
        async with scratch_database("tracing") as url:
            await insert_fleet(url, options.organizations, now=datetime.now(UTC))
            await asyncio.to_thread(serve_and_measure, url, options)

    asyncio.run(with_database())


if __name__ == "__main__":
    main()
