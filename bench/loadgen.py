"""Load for the HTTP benchmarks: ``wrk`` for closed-loop throughput, an h11 open-loop generator
for latency at a fixed arrival rate, and the CPU meters both report with.

* :func:`run_wrk` runs ``wrk`` (``bench/install.sh`` installs it) with a Lua script from
  ``bench/lua/`` that sets the method, headers and bodies. wrk is written in C, so the load
  costs the shared CPUs little, and it answers "how many requests a second at most".
* :func:`open_loop` answers "what latency at N requests a second": every request has an
  intended start time on a fixed schedule, and its latency counts from that time, so a server
  that falls behind shows it in the latency instead of slowing the generator down (no
  coordinated omission). Each load process runs keep-alive connections spoken through h11 on
  uvloop.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import random
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h11
import psutil

LUA_DIR = Path(__file__).resolve().parent / "lua"
WARM_UP_SECONDS = 2.0

Request = tuple[str, str, list[tuple[str, str]], bytes]
"""Method, target, headers and body of one request."""

RequestFactory = Callable[[random.Random], Request]
"""Makes the next request; a module-level function, so that load processes can import it."""


# --- wrk ----------------------------------------------------------------------------------


@dataclass
class WrkResult:
    """What ``wrk`` printed: requests answered, their rate, latency percentiles, errors."""

    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def wrk_path() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise SystemExit("wrk is not installed: run bench/install.sh")
    return found


def _milliseconds(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def run_wrk(
    url: str,
    script: str,
    *,
    seconds: float,
    connections: int,
    threads: int = 1,
    environment: dict[str, str] | None = None,
) -> WrkResult:
    """Run ``wrk`` closed-loop against ``url`` with ``bench/lua/<script>``; ``environment``
    reaches the script through ``os.getenv``."""
    output = subprocess.run(
        [
            wrk_path(),
            f"--threads={threads}",
            f"--connections={connections}",
            f"--duration={max(1, round(seconds))}s",
            "--latency",
            f"--script={LUA_DIR / script}",
            url,
        ],
        env={**os.environ, **(environment or {})},
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    requests = re.search(r"(\d+) requests in ([\d.]+)(\w+)", output)
    if requests is None:
        raise RuntimeError(f"unexpected wrk output:\n{output}")
    elapsed = _milliseconds(requests[2], requests[3]) / 1000
    percentiles = dict(re.findall(r"^\s+(\d+)%\s+([\d.]+\w+)", output, flags=re.M))

    def percentile(name: str) -> float:
        found = re.fullmatch(r"([\d.]+)(us|ms|s|m)", percentiles.get(name, "nan"))
        return _milliseconds(found[1], found[2]) if found else float("nan")

    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    return WrkResult(
        requests=int(requests[1]),
        seconds=elapsed,
        p50_ms=percentile("50"),
        p99_ms=percentile("99"),
        non_2xx=int(non_2xx[1]) if non_2xx else 0,
        socket_errors=sum(int(part) for part in errors.groups()) if errors else 0,
    )


# --- open loop over h11 -------------------------------------------------------------------


class H11Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection spoken through h11, opened on first use and again
    after a failure. A protocol rather than asyncio streams: the generator shares the CPUs with
    the server it measures, and streams cost it about as much again as h11 itself."""

    def __init__(self, host: str, port: int) -> None:
        self._host = host
        self._port = port
        self._transport: asyncio.Transport | None = None
        self._protocol = h11.Connection(h11.CLIENT)
        self._answer: asyncio.Future[int] | None = None
        self._status = 0

    async def request(self, request: Request) -> int:
        """Send one request and read the whole answer; its status code."""
        loop = asyncio.get_running_loop()
        if self._transport is None or self._transport.is_closing():
            self._protocol = h11.Connection(h11.CLIENT)
            await loop.create_connection(lambda: self, self._host, self._port)
        assert self._transport is not None
        method, target, headers, body = request
        framing = [("Content-Length", str(len(body)))] if body else []
        head = h11.Request(
            method=method, target=target, headers=[("Host", self._host), *framing, *headers]
        )
        data = self._protocol.send(head) or b""
        if body:
            data += self._protocol.send(h11.Data(data=body)) or b""
        data += self._protocol.send(h11.EndOfMessage()) or b""
        self._answer = loop.create_future()
        self._transport.write(data)
        return await self._answer

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]  # uvloop's is no subclass

    def data_received(self, data: bytes) -> None:
        self._protocol.receive_data(data)
        while True:
            event = self._protocol.next_event()
            if event is h11.NEED_DATA:
                return
            if isinstance(event, h11.Response):
                self._status = event.status_code
            elif isinstance(event, h11.EndOfMessage):
                self._protocol.start_next_cycle()
                if self._answer is not None and not self._answer.done():
                    self._answer.set_result(self._status)
                return

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        if self._answer is not None and not self._answer.done():
            self._answer.set_exception(exc or ConnectionResetError("connection closed"))

    async def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None


@dataclass
class OpenLoopResult:
    """What the load processes measured in the measured window (after the warm-up)."""

    latencies_ms: list[float] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    unsent: int = 0
    """Requests of the schedule never sent: the server fell too far behind."""
    seconds: float = 0.0
    generator_cpu_seconds: float = 0.0
    """CPU the load processes used while sending (warm-up included)."""

    def percentile(self, fraction: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]

    @property
    def rate(self) -> float:
        return len(self.latencies_ms) / self.seconds if self.seconds else 0.0

    @property
    def errors(self) -> dict[str, int]:
        return {status: count for status, count in self.statuses.items() if status != "200"}

    def merge(self, other: OpenLoopResult) -> None:
        self.latencies_ms.extend(other.latencies_ms)
        for status, count in other.statuses.items():
            self.statuses[status] = self.statuses.get(status, 0) + count
        self.unsent += other.unsent
        self.generator_cpu_seconds += other.generator_cpu_seconds


async def _open_loop(
    base_url: str,
    make_request: RequestFactory,
    rate: float,
    connections: int,
    seconds: float,
    seed: int,
    ready: Any,
    go: Any,
    start_value: Any,
) -> OpenLoopResult:
    host, _, port = base_url.removeprefix("http://").partition(":")
    rng = random.Random(seed)
    pool = [H11Connection(host, int(port or 80)) for _ in range(connections)]
    result = OpenLoopResult(seconds=seconds)
    slots = iter(range(10**12))

    async def send(connection: H11Connection) -> str:
        try:
            status = await connection.request(make_request(rng))
        except (OSError, h11.ProtocolError) as exc:
            await connection.close()
            return type(exc).__name__
        return str(status)

    async def worker(connection: H11Connection) -> None:
        while True:
            intended = start_at + next(slots) / rate
            if intended >= stop_at:
                return
            delay = intended - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            elif time.time() > stop_at + 1.0:
                # hopelessly behind: what is left of the schedule is not sent
                result.unsent += int((stop_at - intended) * rate / connections)
                return
            status = await send(connection)
            if intended >= measure_from:
                result.statuses[status] = result.statuses.get(status, 0) + 1
                if status == "200":
                    result.latencies_ms.append((time.time() - intended) * 1000)

    # one request per connection before the clock starts: connections are open and warm
    await asyncio.gather(*(send(connection) for connection in pool))
    # every load process starts on the same schedule, once all of them are ready
    ready.put(seed)
    await asyncio.to_thread(go.wait)
    start_at = start_value.value
    measure_from = start_at + WARM_UP_SECONDS
    stop_at = measure_from + seconds
    await asyncio.sleep(max(0.0, start_at - time.time()))
    cpu_started = time.process_time()
    await asyncio.gather(*(worker(connection) for connection in pool))
    result.generator_cpu_seconds = time.process_time() - cpu_started
    await asyncio.gather(*(connection.close() for connection in pool))
    return result


def _load_process(arguments: tuple[Any, ...], results: Any) -> None:
    import uvloop

    results.put(uvloop.run(_open_loop(*arguments)))


def open_loop(
    base_url: str,
    make_request: RequestFactory,
    *,
    rate: float,
    seconds: float,
    processes: int = 2,
    connections: int = 32,
    meters: Sequence[CpuMeter] = (),
) -> OpenLoopResult:
    """Offer ``rate`` requests a second for a warm-up and ``seconds`` from ``processes`` load
    processes of ``connections`` each; ``meters`` are read around the measured window."""
    context = multiprocessing.get_context("spawn")
    results, ready, go = context.Queue(), context.Queue(), context.Event()
    start_value = context.Value("d", 0.0)
    shared = (base_url, make_request, rate / processes, connections, seconds)
    children = [
        context.Process(
            target=_load_process, args=((*shared, seed, ready, go, start_value), results)
        )
        for seed in range(processes)
    ]
    for child in children:
        child.start()
    for _ in children:
        ready.get(timeout=120)
    start_at = time.time() + 0.5
    start_value.value = start_at
    go.set()
    time.sleep(max(0.0, start_at + WARM_UP_SECONDS - time.time()))
    for meter in meters:
        meter.start()
    time.sleep(max(0.0, start_at + WARM_UP_SECONDS + seconds - time.time()))
    for meter in meters:
        meter.stop()
    merged = OpenLoopResult(seconds=seconds)
    for _ in children:
        merged.merge(results.get(timeout=seconds + 120))
    for child in children:
        child.join()
    return merged


# --- CPU ----------------------------------------------------------------------------------


class CpuMeter:
    """User and system CPU seconds of a process and its children between start and stop."""

    def __init__(self, pid: int) -> None:
        self._process = psutil.Process(pid)
        self._started = 0.0
        self.seconds = 0.0

    def _now(self) -> float:
        total = 0.0
        for member in [self._process, *self._process.children(recursive=True)]:
            try:
                times = member.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += times.user + times.system
        return total

    def start(self) -> None:
        self._started = self._now()

    def stop(self) -> None:
        self.seconds = self._now() - self._started
