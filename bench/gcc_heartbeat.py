"""Sustained heartbeat load against ``gcc serve`` with a large fleet in the database.

Target: 2,000 heartbeats per second with a p99 latency under 50 ms, 100,000 organizations.

The script creates its own database (dropped at the end), migrates it, COPYs in the fleet with
API keys it can rebuild from an index, and starts ``gcc serve --workers N`` as a subprocess
(``--separate-servers`` starts N single-worker ``gcc serve`` instead, each load process aimed
at one). Load comes from separate processes, each a uvloop event loop keeping
``--connections`` keep-alive connections busy with
``POST /api/v1/organizations/{name}/heartbeat`` for random organizations, each with its own
key. The default client writes HTTP/1.1 by hand: on this 2-core machine httpx costs more CPU
per request than the server does, and would measure itself (``--client httpx`` shows it).

By default the load is open-loop at ``--rate`` requests per second: every request has an
intended start time and its latency is measured from that time, so a server that falls
behind shows it in the latency instead of slowing the generator down. ``--rate 0`` runs
closed-loop (each connection sends its next request when the previous one is answered), which
shows the most the server sustains. CPU seconds used by the servers, the load processes and
PostgreSQL are printed per request, since on a shared 2-core machine they decide the result.

    uv run python bench/gcc_heartbeat.py [--organizations 100000] [--rate 2000]
        [--seconds 12] [--server-workers 2] [--clients 2] [--connections 32]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import psutil
from gcc_fleet import api_key_of, insert_fleet, name_of, scratch_database
from rawhttp import RawConnection

TARGET_RATE = 2000
TARGET_P99_MS = 50.0
WARM_UP_SECONDS = 3.0


@dataclass
class LoadResult:
    """What one load process measured during the measured window."""

    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    late_starts: int = 0
    unsent: int = 0
    """Requests of the schedule never sent: the server was too slow to keep up."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def heartbeat_body() -> bytes:
    now = datetime.now(UTC).isoformat()
    return (
        '{"version": "2.3.0", "status": "healthy", '
        f'"agentLastPoll": "{now}", "timestamp": "{now}"}}'
    ).encode()


class HeartbeatConnection(RawConnection):
    """Heartbeats over one hand-written keep-alive connection (:mod:`rawhttp`)."""

    async def post(self, path: str, api_key: str, body: bytes) -> int:
        """Send one heartbeat; its status code."""
        status, _ = await self.request(
            "POST",
            path,
            f"Authorization: Bearer {api_key}\r\nContent-Type: application/json\r\n",
            body,
        )
        return status


class HttpxConnection:
    """One ``httpx.AsyncClient`` per connection (its pool is searched on every request, which
    costs more than the request itself once it holds dozens of connections)."""

    def __init__(self, base_url: str) -> None:
        self._client = httpx.AsyncClient(
            base_url=base_url, limits=httpx.Limits(max_connections=1), timeout=30
        )

    async def post(self, path: str, api_key: str, body: bytes) -> int:
        response = await self._client.post(
            path,
            content=body,
            headers={"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"},
        )
        return response.status_code

    async def close(self) -> None:
        await self._client.aclose()


async def generate_load(
    base_url: str,
    client_kind: str,
    organizations: int,
    rate: float,
    connections: int,
    seconds: float,
    seed: int,
    ready: Any,
    go: Any,
    start_value: Any,
) -> LoadResult:
    """Send heartbeats for the warm-up and ``seconds``; record those started after the
    warm-up. Waits for ``go`` so that every load process starts on the same schedule."""
    rng = random.Random(seed)
    result = LoadResult()
    body = heartbeat_body()
    slots = iter(range(10**12))
    kind = HeartbeatConnection if client_kind == "raw" else HttpxConnection
    pool = [kind(base_url) for _ in range(connections)]

    async def send(connection: HeartbeatConnection | HttpxConnection) -> str | None:
        index = rng.randrange(organizations)
        try:
            status = await connection.post(
                f"/api/v1/organizations/{name_of(index)}/heartbeat", api_key_of(index), body
            )
        except (OSError, asyncio.IncompleteReadError, httpx.HTTPError) as exc:
            await connection.close()
            return type(exc).__name__
        return None if status == 200 else str(status)

    async def worker(connection: HeartbeatConnection | HttpxConnection) -> None:
        while True:
            if rate > 0:
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
                elif delay < -0.005 and intended >= measure_from:
                    result.late_starts += 1
            else:
                intended = time.time()
                if intended >= stop_at:
                    return
            outcome = await send(connection)
            finished = time.time()
            if intended >= measure_from:
                if outcome is None:
                    result.latencies.append(finished - intended)
                else:
                    result.errors[outcome] = result.errors.get(outcome, 0) + 1

    try:
        # one request per connection before the clock starts: connections are open and warm
        await asyncio.gather(*(send(connection) for connection in pool))
        ready.put(seed)
        await asyncio.to_thread(go.wait)
        start_at = start_value.value
        measure_from = start_at + WARM_UP_SECONDS
        stop_at = measure_from + seconds
        await asyncio.sleep(max(0.0, start_at - time.time()))
        await asyncio.gather(*(worker(connection) for connection in pool))
    finally:
        await asyncio.gather(*(connection.close() for connection in pool))
    return result


def load_process(arguments: tuple[Any, ...], queue: Any) -> None:
    """Entry point of one load process (on uvloop, as the server: the generator's own CPU
    per request counts on a 2-core machine)."""
    import uvloop

    queue.put(uvloop.run(generate_load(*arguments)))


def start_server(database_url: str, port: int, workers: int) -> subprocess.Popen[bytes]:
    environment = {
        **os.environ,
        "GCC_DATABASE_URL": database_url,
        "GCC_LOG_LEVEL": "WARNING",
        "GCC_DATABASE_POOL_SIZE": os.environ.get("GCC_DATABASE_POOL_SIZE", "40"),
    }
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gcc.cli",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ],
        env=environment,
        start_new_session=True,
    )


def wait_until_up(base_url: str, server: subprocess.Popen[bytes], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gcc serve exited with status {server.returncode}")
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError("gcc serve did not answer /healthz in time")


def stop_server(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def percentile(sorted_values: list[float], fraction: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(fraction * (len(sorted_values) - 1))))
    return sorted_values[index]


def cpu_seconds(processes: list[psutil.Process]) -> float:
    """User and system CPU seconds of ``processes`` and their children."""
    total = 0.0
    for process in processes:
        try:
            family = [process, *process.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
        for member in family:
            try:
                times = member.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += times.user + times.system
    return total


def postgres_processes(database: str) -> list[psutil.Process]:
    """The backends serving ``database`` and PostgreSQL's shared background processes (WAL
    writer, checkpointer...), not other databases' backends."""
    found = []
    for process in psutil.process_iter(["name", "cmdline"]):
        if process.info["name"] != "postgres":
            continue
        title = " ".join(process.info["cmdline"] or [])
        if database in title or not any(
            state in title for state in (" idle", " active", " authentication", " waiting")
        ):
            found.append(process)
    return found


@dataclass
class CpuUse:
    """CPU seconds spent during the measured window, by party."""

    servers: float
    load: float
    postgres: float


def run_load(
    base_urls: list[str],
    servers: list[subprocess.Popen[bytes]],
    database: str,
    options: argparse.Namespace,
) -> tuple[list[LoadResult], CpuUse]:
    context = multiprocessing.get_context("spawn")
    results_queue = context.Queue()
    ready = context.Queue()
    go = context.Event()
    start_value = context.Value("d", 0.0)
    per_client_rate = options.rate / options.clients
    processes = [
        context.Process(
            target=load_process,
            args=(
                (
                    base_urls[number % len(base_urls)],
                    options.client,
                    options.organizations,
                    per_client_rate,
                    options.connections,
                    options.seconds,
                    number,
                    ready,
                    go,
                    start_value,
                ),
                results_queue,
            ),
        )
        for number in range(options.clients)
    ]
    for process in processes:
        process.start()
    for _ in processes:
        ready.get(timeout=120)
    start_value.value = time.time() + 0.5
    go.set()
    server_processes = [psutil.Process(server.pid) for server in servers]
    load_processes = [psutil.Process(process.pid) for process in processes if process.pid]
    time.sleep(max(0.0, start_value.value + WARM_UP_SECONDS - time.time()))
    before = (
        cpu_seconds(server_processes),
        cpu_seconds(load_processes),
        cpu_seconds(postgres_processes(database)),
    )
    time.sleep(max(0.0, start_value.value + WARM_UP_SECONDS + options.seconds - time.time()))
    after = (
        cpu_seconds(server_processes),
        cpu_seconds(load_processes),
        cpu_seconds(postgres_processes(database)),
    )
    timeout = options.seconds + 120
    results = [results_queue.get(timeout=timeout) for _ in processes]
    for process in processes:
        process.join()
    return results, CpuUse(*(end - start for start, end in zip(before, after, strict=True)))


def report(results: list[LoadResult], cpu: CpuUse, options: argparse.Namespace) -> bool:
    latencies = sorted(value for result in results for value in result.latencies)
    errors: dict[str, int] = {}
    for result in results:
        for key, count in result.errors.items():
            errors[key] = errors.get(key, 0) + count
    late = sum(result.late_starts for result in results)
    unsent = sum(result.unsent for result in results)
    if not latencies:
        print(
            f"no successful heartbeat during the measured window; errors: {errors}, "
            f"late starts: {late:,}, never sent: {unsent:,}"
        )
        return False
    achieved = len(latencies) / options.seconds
    p50 = percentile(latencies, 0.50) * 1000
    p99 = percentile(latencies, 0.99) * 1000
    mode = f"open loop at {options.rate:,.0f}/s" if options.rate > 0 else "closed loop"
    print(
        f"heartbeats ({mode}, {options.client} client, "
        f"{options.clients} load processes x {options.connections} "
        f"connections, {options.seconds:.0f} s measured, {options.server_workers} server "
        f"{'processes' if options.separate_servers else 'workers'}, "
        f"{options.organizations:,} organizations):"
    )
    print(
        f"  {achieved:,.0f} requests/s sustained; latency p50 {p50:.1f} ms, "
        f"p90 {percentile(latencies, 0.90) * 1000:.1f} ms, p99 {p99:.1f} ms, "
        f"max {latencies[-1] * 1000:.1f} ms, mean {statistics.fmean(latencies) * 1000:.1f} ms"
    )
    served = achieved * options.seconds
    print(
        f"  CPU per request: servers {cpu.servers / served * 1000:.2f} ms, load generator "
        f"{cpu.load / served * 1000:.2f} ms, PostgreSQL {cpu.postgres / served * 1000:.2f} ms "
        f"({os.cpu_count()} CPUs; load average at the end {os.getloadavg()[0]:.1f})"
    )
    print(
        f"  errors: {errors or 'none'}; requests started late by the generator: {late:,}; "
        f"scheduled but never sent (server behind): {unsent:,}"
    )
    meets = achieved >= TARGET_RATE * 0.98 and p99 < TARGET_P99_MS and not errors and not unsent
    verdict = "meets" if meets else "MISSES"
    print(f"  {verdict} the target of {TARGET_RATE:,}/s at p99 < {TARGET_P99_MS:.0f} ms")
    return meets


async def prepare(url: str, organizations: int) -> None:
    started = time.perf_counter()
    await insert_fleet(url, organizations, now=datetime.now(UTC))
    print(
        f"fleet: {organizations:,} organizations inserted in {time.perf_counter() - started:.1f} s"
    )


def main(options: argparse.Namespace) -> int:
    async def with_database() -> bool:
        async with scratch_database("heartbeat") as url:
            await prepare(url, options.organizations)
            if options.separate_servers:
                # N `gcc serve` processes, each load process aimed at one of them
                ports = [free_port() for _ in range(options.server_workers)]
                servers = [start_server(url, port, 1) for port in ports]
            else:
                # one `gcc serve --workers N`: uvicorn's supervisor shares the socket
                ports = [free_port()]
                servers = [start_server(url, ports[0], options.server_workers)]
            base_urls = [f"http://127.0.0.1:{port}" for port in ports]
            try:
                for base_url, server in zip(base_urls, servers, strict=True):
                    wait_until_up(base_url, server)
                database = url.rsplit("/", 1)[1]
                results, cpu = await asyncio.to_thread(
                    run_load, base_urls, servers, database, options
                )
            finally:
                for server in servers:
                    stop_server(server)
            meets = report(results, cpu, options)
            await check_recorded(url)
            return meets

    return 0 if asyncio.run(with_database()) else 1


async def check_recorded(url: str) -> None:
    import asyncpg
    from gcc_fleet import plain_dsn

    connection = await asyncpg.connect(plain_dsn(url))
    try:
        seen = await connection.fetchval(
            "SELECT count(*) FROM organization WHERE last_heartbeat_at IS NOT NULL"
        )
    finally:
        await connection.close()
    print(f"  organizations with a recorded heartbeat afterwards: {seen:,}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--organizations", type=int, default=100_000)
    parser.add_argument("--rate", type=float, default=TARGET_RATE, help="0: closed loop")
    parser.add_argument("--seconds", type=float, default=12.0)
    parser.add_argument("--server-workers", type=int, default=2, help="server processes")
    parser.add_argument(
        "--separate-servers",
        action="store_true",
        help="N single-worker `gcc serve` processes, each load process aimed at one, "
        "instead of one `gcc serve --workers N`",
    )
    parser.add_argument("--clients", type=int, default=2, help="load processes")
    parser.add_argument("--connections", type=int, default=32, help="per load process")
    parser.add_argument(
        "--client",
        choices=["raw", "httpx"],
        default="raw",
        help="raw: hand-written HTTP/1.1 on keep-alive sockets (default); httpx: one "
        "httpx.AsyncClient per connection, which costs more CPU per request than the server",
    )
    sys.exit(main(parser.parse_args()))
