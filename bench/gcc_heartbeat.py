"""Heartbeats against ``gcc serve`` with a large fleet, beside a minimal FastAPI anchor app.

Targets, on this 2-core machine where the load generator shares the CPUs:

* 2,000 heartbeats per second at p99 < 50 ms, 2 uvicorn workers, 100,000 organizations;
* server CPU per heartbeat at 2,000/s no more than 1.15x that of the anchor
  (``bench/anchor_app.py``: FastAPI + asyncpg, validates the same body, one UPDATE on a
  100,000-row table), which runs in the same run, on the same database server.

The script creates its own database (dropped at the end), migrates it, COPYs in the fleet with
API keys it can rebuild from an index, adds the anchor's table, and serves ``gcc serve
--workers N`` and the anchor (uvicorn, N workers) side by side. Then:

1. closed loop, each app in turn: ``wrk`` with ``bench/lua/heartbeat.lua`` (a random
   organization, with its own key), the most heartbeats a second the app answers;
2. open loop, ``--rounds`` runs per app taking turns, so that other work on the machine
   weighs on both alike: ``--rate`` heartbeats a second on a fixed schedule from h11 load
   processes (:mod:`loadgen`), latency counted from each request's intended start.

It prints throughput, latency, and server CPU per heartbeat (the server processes' user and
system time over the measured window, divided by the heartbeats answered), then the ratio of
GCC's CPU per heartbeat to the anchor's at the target rate, over all rounds.

    bench/install.sh   # wrk, once
    uv run python bench/gcc_heartbeat.py [--organizations 100000] [--rate 2000]
        [--seconds 12] [--rounds 2] [--server-workers 2] [--connections 32]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
from anchor_app import create_table
from gcc_fleet import api_key_of, insert_fleet, name_of, plain_dsn, scratch_database
from loadgen import CpuMeter, OpenLoopResult, Request, open_loop, run_wrk

from wrktalk_testing.network import free_port

TARGET_RATE = 2000
TARGET_P99_MS = 50.0
TARGET_CPU_RATIO = 1.15
BENCH_DIR = Path(__file__).resolve().parent
BODY = (
    '{"version": "2.3.0", "status": "healthy", '
    f'"agentLastPoll": "{datetime.now(UTC).isoformat()}", '
    f'"timestamp": "{datetime.now(UTC).isoformat()}"}}'
)
ORGANIZATIONS = int(os.environ.get("BENCH_ORGANIZATIONS", "100000"))


def heartbeat_request(rng: random.Random) -> Request:
    """A heartbeat for a random organization of the fleet, with its own key."""
    index = rng.randrange(ORGANIZATIONS)
    return (
        "POST",
        f"/api/v1/organizations/{name_of(index)}/heartbeat",
        [("Authorization", f"Bearer {api_key_of(index)}"), ("Content-Type", "application/json")],
        BODY.encode(),
    )


def start_gcc(url: str, port: int, workers: int) -> subprocess.Popen[bytes]:
    environment = {
        **os.environ,
        "GCC_DATABASE_URL": url,
        "GCC_LOG_LEVEL": "WARNING",
        "GCC_DATABASE_POOL_SIZE": os.environ.get("GCC_DATABASE_POOL_SIZE", "10"),
    }
    command = [sys.executable, "-m", "gcc.cli", "serve", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--workers", str(workers)]
    return subprocess.Popen(command, env=environment, start_new_session=True)


def start_anchor(url: str, port: int, workers: int) -> subprocess.Popen[bytes]:
    environment = {**os.environ, "ANCHOR_DSN": plain_dsn(url)}
    command = [sys.executable, "-m", "uvicorn", "anchor_app:app", "--app-dir", str(BENCH_DIR)]
    command += ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    command += ["--no-access-log", "--log-level", "warning"]
    return subprocess.Popen(command, env=environment, start_new_session=True)


def wait_until_up(base_url: str, server: subprocess.Popen[bytes], probe: str) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with status {server.returncode}")
        try:
            if httpx.get(f"{base_url}{probe}", timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{base_url} did not answer in time")


def stop(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


@dataclass
class Served:
    """One app under test: its name, address and server process."""

    label: str
    base_url: str
    server: subprocess.Popen[bytes]


def closed_loop(app: Served, options: argparse.Namespace) -> None:
    """The most heartbeats a second ``app`` answers (wrk), with its server CPU per heartbeat."""
    meter = CpuMeter(app.server.pid)
    meter.start()
    closed = run_wrk(
        f"{app.base_url}/",
        "heartbeat.lua",
        seconds=options.seconds,
        connections=options.connections,
        environment={"BENCH_ORGANIZATIONS": str(ORGANIZATIONS), "BENCH_BODY": BODY},
    )
    meter.stop()
    cpu = meter.seconds / closed.requests if closed.requests else float("nan")
    print(
        f"{app.label:<7} closed loop (wrk, {options.connections} connections): "
        f"{closed.rate:,.0f}/s, p50 {closed.p50_ms:.1f} ms, p99 {closed.p99_ms:.1f} ms, "
        f"server CPU {cpu * 1000:.3f} ms/heartbeat, "
        f"errors {closed.non_2xx + closed.socket_errors}",
        flush=True,
    )


def paced(app: Served, options: argparse.Namespace) -> tuple[OpenLoopResult, float]:
    """``--rate`` heartbeats a second on a fixed schedule; what was seen and the server CPU."""
    meter = CpuMeter(app.server.pid)
    result = open_loop(
        app.base_url,
        heartbeat_request,
        rate=options.rate,
        seconds=options.seconds,
        processes=options.load_processes,
        connections=options.connections // options.load_processes,
        meters=[meter],
    )
    answered = len(result.latencies_ms)
    per_heartbeat = meter.seconds / answered if answered else float("nan")
    generator = result.generator_cpu_seconds / answered if answered else float("nan")
    print(
        f"{app.label:<7} open loop at {options.rate:,.0f}/s (h11): {result.rate:,.0f}/s "
        f"answered, p50 {result.percentile(0.5):.1f} ms, p99 {result.percentile(0.99):.1f} ms, "
        f"max {result.percentile(1.0):.1f} ms, server CPU {per_heartbeat * 1000:.3f} "
        f"ms/heartbeat (load generator {generator * 1000:.3f} ms), "
        f"errors {result.errors or 'none'}, never sent {result.unsent:,} "
        f"(load average {os.getloadavg()[0]:.1f})",
        flush=True,
    )
    return result, meter.seconds


def measure(apps: list[Served], options: argparse.Namespace) -> bool:
    """Closed loop for each app, then open-loop rounds taking turns, so that other work on
    the machine weighs on both apps alike; CPU per heartbeat over all rounds."""
    for app in apps:
        closed_loop(app, options)
    seen = {app.label: OpenLoopResult(seconds=0.0) for app in apps}
    cpu = dict.fromkeys(seen, 0.0)
    for _ in range(options.rounds):
        for app in apps:
            result, seconds = paced(app, options)
            seen[app.label].seconds += options.seconds
            seen[app.label].merge(result)
            cpu[app.label] += seconds
    per_heartbeat = {
        label: cpu[label] / max(1, len(result.latencies_ms)) for label, result in seen.items()
    }
    return verdict(seen["gcc"], per_heartbeat["gcc"], per_heartbeat["anchor"])


def serve_and_measure(url: str, options: argparse.Namespace) -> bool:
    """Serve GCC and the anchor side by side (the idle one costs next to nothing) and
    measure them."""
    apps: list[Served] = []
    try:
        for label, start, probe in (
            ("gcc", start_gcc, "/healthz"),
            ("anchor", start_anchor, "/docs"),
        ):
            port = free_port()
            apps.append(
                Served(label, f"http://127.0.0.1:{port}", start(url, port, options.server_workers))
            )
            wait_until_up(apps[-1].base_url, apps[-1].server, probe)
        return measure(apps, options)
    finally:
        for app in apps:
            stop(app.server)


async def prepare(url: str, organizations: int) -> None:
    started = time.perf_counter()
    await insert_fleet(url, organizations, now=datetime.now(UTC))
    connection = await asyncpg.connect(plain_dsn(url))
    try:
        await create_table(connection, organizations)
    finally:
        await connection.close()
    took = time.perf_counter() - started
    print(f"fleet: {organizations:,} organizations (and the anchor's rows) in {took:.1f} s")


def verdict(gcc: OpenLoopResult, gcc_cpu: float, anchor_cpu: float) -> bool:
    ratio = gcc_cpu / anchor_cpu
    meets_rate = (
        gcc.rate >= TARGET_RATE * 0.98
        and gcc.percentile(0.99) < TARGET_P99_MS
        and not gcc.errors
        and not gcc.unsent
    )
    print(
        f"server CPU per heartbeat at the target rate: gcc {gcc_cpu * 1000:.3f} ms, anchor "
        f"{anchor_cpu * 1000:.3f} ms, ratio {ratio:.2f} (target <= {TARGET_CPU_RATIO})"
    )
    print(
        f"{'meets' if meets_rate else 'MISSES'} {TARGET_RATE:,}/s at p99 < {TARGET_P99_MS:.0f} "
        f"ms; {'meets' if ratio <= TARGET_CPU_RATIO else 'MISSES'} the CPU ratio"
    )
    return meets_rate and ratio <= TARGET_CPU_RATIO


def main(options: argparse.Namespace) -> int:
    global ORGANIZATIONS
    ORGANIZATIONS = options.organizations
    # the load processes import this module afresh: they read the fleet's size from here
    os.environ["BENCH_ORGANIZATIONS"] = str(options.organizations)

    async def with_database() -> bool:
        async with scratch_database("heartbeat") as url:
            await prepare(url, options.organizations)
            return await asyncio.to_thread(serve_and_measure, url, options)

    return 0 if asyncio.run(with_database()) else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--organizations", type=int, default=100_000)
    parser.add_argument("--rate", type=float, default=TARGET_RATE, help="open-loop rate")
    parser.add_argument("--seconds", type=float, default=12.0, help="per measured run")
    parser.add_argument("--server-workers", type=int, default=2, help="uvicorn workers")
    parser.add_argument("--load-processes", type=int, default=2, help="open-loop processes")
    parser.add_argument("--connections", type=int, default=32, help="in all, per app")
    parser.add_argument("--rounds", type=int, default=2, help="open-loop runs per app, in turn")
    sys.exit(main(parser.parse_args()))
