"""Agent polls per second and poll latency of ``customer-backend serve``.

The script creates its own database on the machine's PostgreSQL (dropped at the end) and a
bucket directory (``WRKTALK_BUCKET_PROVIDER=filesystem``, so no S3 is involved), migrates, starts
``customer-backend serve`` as a subprocess, and drives ``GET /internal/agent/tasks`` from load
generator processes (keep-alive connections written by hand, :mod:`rawhttp`; ``--client
aiohttp`` or ``--client httpx``, the client the agent itself uses, for comparison). The
generators share the machine's CPUs with the server and PostgreSQL, so the default is the
cheapest client: httpx costs more CPU per request than the server, and on two CPUs that CPU
is taken from the server being measured. Each scenario runs twice:

* closed loop: ``--concurrency`` connections poll back to back; the rate is the most the server
  answers (latency there includes queueing at saturation);
* paced: ``--rate`` polls per second are offered on a fixed schedule, and each latency counts
  from the moment the poll was due (no coordinated omission), so p99 is what an agent sees at
  that load.

Scenarios:

1. ``empty``: no task at all;
2. ``10k-not-due``: 10,000 pending tasks whose ``executeAfter`` is a day away, so every poll
   searches the queue, records the poll, and claims nothing (the state every poll of a real
   agent is in, and the one the target is about);
3. ``10k-due`` (closed loop only): 10,000 due tasks; every poll claims one, marks it in
   progress, adds presigned (``file://``) URLs and queues the "started" email. Reported
   separately as claims per second;
4. ``healthz`` (closed loop, not run by default): ``GET /healthz``, no database and no
   dependency, the floor of what uvicorn and FastAPI cost per request on the same machine.

    uv run python bench/backend_poll.py [--workers 2] [--concurrency 8] [--rate 1500]
        [--duration 10] [--generators 2] [--client raw|aiohttp|httpx] [--scenarios empty,...]

Besides latency and rate, each row shows the CPU time one answered poll cost in the server, in
PostgreSQL and in the generators, and the load average: on a machine that other work shares,
the CPU cost per poll is the steadier figure.

The exit status is 1 when the paced run of ``10k-not-due`` misses the target (1,500 polls/s
with p99 under 20 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from array import array
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil
from rawhttp import RawConnection

from wrktalk_testing.network import free_port

ADMIN_DSN = os.environ.get("BENCH_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
AGENT_SECRET = "bench-agent-secret"  # noqa: S105 - a throwaway secret for the bench server
POLL_PATH = "/internal/agent/tasks"
QUEUED_TASKS = 10_000
TARGET_RATE = 1_500.0
TARGET_P99_MS = 20.0


@dataclass
class Measurement:
    """What the load generators saw in one run."""

    scenario: str
    mode: str
    offered: str
    requests: int
    seconds: float
    latencies_ms: list[float]
    claimed: int
    errors: int
    server_cpu_seconds: float = 0.0
    database_cpu_seconds: float = 0.0
    generator_cpu_seconds: float = 0.0
    load_average: float = 0.0

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, fraction: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        index = min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))
        return ordered[index]

    def cpu_per_poll_us(self, seconds: float) -> float:
        return seconds / self.requests * 1e6 if self.requests else float("nan")

    def line(self) -> str:
        return (
            f"{self.scenario:<12} {self.mode:<7} {self.offered:>12} "
            f"{self.rate:>9.0f}/s {self.percentile(0.50):>8.2f} {self.percentile(0.99):>8.2f} "
            f"{max(self.latencies_ms, default=float('nan')):>8.2f} "
            f"{self.claimed:>7} {self.errors:>6} "
            f"{self.cpu_per_poll_us(self.server_cpu_seconds):>8.0f} "
            f"{self.cpu_per_poll_us(self.database_cpu_seconds):>6.0f} "
            f"{self.cpu_per_poll_us(self.generator_cpu_seconds):>6.0f} "
            f"{self.load_average:>5.1f}"
        )


# --- load generator (runs in child processes) ---------------------------------------------


def _fast_failing_sniffio_import() -> None:
    """httpcore imports ``sniffio`` on every request to tell asyncio from trio; without the
    package installed each failed import searches the whole ``sys.path`` (about 0.1 ms, several
    times per request). A ``None`` in ``sys.modules`` makes the import fail at once, which
    httpcore treats exactly as before (asyncio); the generators then cost less CPU on a
    machine the server shares."""
    try:
        import sniffio  # noqa: F401
    except ImportError:
        sys.modules["sniffio"] = None  # type: ignore[assignment]


def generator_process(
    client_kind: str,
    path: str,
    base_url: str,
    mode: str,
    concurrency: int,
    rate: float,
    duration: float,
    start_at: float,
    results: Any,
) -> None:
    """One load generator: closed loop over ``concurrency`` connections, or ``rate`` paced."""
    _fast_failing_sniffio_import()
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover - uvloop ships with uvicorn[standard]
        pass
    results.put(
        asyncio.run(
            _generate(client_kind, path, base_url, mode, concurrency, rate, duration, start_at)
        )
    )


Poller = Callable[[], Awaitable[tuple[int, bytes]]]


@asynccontextmanager
async def open_poller(
    client_kind: str, base_url: str, concurrency: int, path: str
) -> AsyncIterator[Poller]:
    """``GET /internal/agent/tasks`` over ``concurrency`` keep-alive connections: written by
    hand (``raw``, the default: a few microseconds of CPU per poll, see :mod:`rawhttp`),
    aiohttp, or httpx (what the agent itself uses; it costs more CPU per request than the
    server, on the CPUs the server needs)."""
    headers = {"X-Agent-Secret": AGENT_SECRET}
    if client_kind == "raw":
        idle: asyncio.Queue[RawConnection] = asyncio.Queue()
        for _ in range(concurrency):
            idle.put_nowait(RawConnection(base_url))
        raw_headers = f"X-Agent-Secret: {AGENT_SECRET}\r\n"

        async def get_raw() -> tuple[int, bytes]:
            connection = await idle.get()
            try:
                return await connection.request("GET", path, raw_headers)
            except (OSError, asyncio.IncompleteReadError):
                await connection.close()
                return 0, b""
            finally:
                idle.put_nowait(connection)

        try:
            yield get_raw
        finally:
            while not idle.empty():
                await idle.get_nowait().close()
        return
    if client_kind == "aiohttp":
        import aiohttp

        connector = aiohttp.TCPConnector(limit=concurrency)
        async with aiohttp.ClientSession(base_url, headers=headers, connector=connector) as session:

            async def get_aiohttp() -> tuple[int, bytes]:
                async with session.get(path) as response:
                    return response.status, await response.read()

            yield get_aiohttp
        return
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=base_url, headers=headers, limits=limits, timeout=30
    ) as client:

        async def get_httpx() -> tuple[int, bytes]:
            response = await client.get(path)
            return response.status_code, response.content

        yield get_httpx


async def _generate(
    client_kind: str,
    path: str,
    base_url: str,
    mode: str,
    concurrency: int,
    rate: float,
    duration: float,
    start_at: float,
) -> tuple[bytes, int, int, int, float, float]:
    latencies = array("d")
    counts = {"claimed": 0, "errors": 0, "unsent": 0}
    async with open_poller(client_kind, base_url, concurrency, path) as get:

        async def poll() -> None:
            status, content = await get()
            if status != 200:
                counts["errors"] += 1
            elif path == POLL_PATH and b'"task":null' not in content:
                counts["claimed"] += 1

        # Open the connections before the clock starts.
        await asyncio.gather(*(poll() for _ in range(concurrency)))
        counts["claimed"] = 0
        await asyncio.sleep(max(0.0, start_at - time.time()))
        began = time.perf_counter()
        cpu_began = time.process_time()
        stop = began + duration
        if mode == "closed":

            async def loop() -> None:
                while time.perf_counter() < stop:
                    sent = time.perf_counter()
                    await poll()
                    latencies.append(time.perf_counter() - sent)

            await asyncio.gather(*(loop() for _ in range(concurrency)))
        else:
            in_flight = asyncio.Semaphore(concurrency)
            interval = 1.0 / rate
            tasks = []

            async def one(due: float) -> None:
                async with in_flight:
                    # A poll still waiting for a connection when the run ends is never sent:
                    # the shortfall shows as a lower answered rate, not as an endless run.
                    if time.perf_counter() > stop:
                        counts["unsent"] += 1
                        return
                    await poll()
                latencies.append(time.perf_counter() - due)

            for index in range(int(duration * rate)):
                due = began + index * interval
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(one(due)))
            await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - began
        cpu = time.process_time() - cpu_began
    return latencies.tobytes(), len(latencies), counts["claimed"], counts["errors"], elapsed, cpu


def run_load(
    base_url: str,
    *,
    scenario: str,
    mode: str,
    generators: int,
    concurrency: int,
    rate: float,
    duration: float,
    client_kind: str = "raw",
    path: str = POLL_PATH,
) -> Measurement:
    """Run the generator processes and merge what they measured."""
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    start_at = time.time() + 2.0 + 0.3 * generators
    per_process_concurrency = max(1, concurrency // generators)
    processes = [
        context.Process(
            target=generator_process,
            args=(
                client_kind,
                path,
                base_url,
                mode,
                per_process_concurrency,
                rate / generators,
                duration,
                start_at,
                results,
            ),
        )
        for _ in range(generators)
    ]
    for process in processes:
        process.start()
    parts = [results.get(timeout=duration + 120) for _ in processes]
    for process in processes:
        process.join()
    latencies: list[float] = []
    claimed = errors = 0
    seconds = cpu = 0.0
    for raw, _count, part_claimed, part_errors, elapsed, part_cpu in parts:
        cpu += part_cpu
        values = array("d")
        values.frombytes(raw)
        latencies.extend(value * 1000 for value in values)
        claimed += part_claimed
        errors += part_errors
        seconds = max(seconds, elapsed)
    offered = f"{concurrency} conns" if mode == "closed" else f"{rate:.0f}/s"
    measurement = Measurement(
        scenario, mode, offered, len(latencies), seconds, latencies, claimed, errors
    )
    measurement.generator_cpu_seconds = cpu
    return measurement


# --- the system under test ----------------------------------------------------------------


async def create_database(name: str) -> None:
    connection = await asyncpg.connect(ADMIN_DSN)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()


async def drop_database(name: str) -> None:
    connection = await asyncpg.connect(ADMIN_DSN)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


def database_dsn(name: str) -> str:
    return ADMIN_DSN.rsplit("/", 1)[0] + f"/{name}"


def server_environment(database: str, bucket_root: Path, pool_size: int) -> dict[str, str]:
    environment = dict(os.environ)
    environment.update(
        {
            "WRKTALK_DATABASE_URL": database_dsn(database).replace(
                "postgresql://", "postgresql+asyncpg://", 1
            ),
            "WRKTALK_DATABASE_POOL_SIZE": str(pool_size),
            "WRKTALK_AGENT_SECRET": AGENT_SECRET,
            "WRKTALK_BUCKET_PROVIDER": "filesystem",
            "WRKTALK_BUCKET_ROOT": str(bucket_root),
            "WRKTALK_LOG_LEVEL": "WARNING",
            "WRKTALK_ORGANIZATION_NAME": "bench",
            "WRKTALK_REDIS_URL": "redis://127.0.0.1:6379/15",
        }
    )
    return environment


def use_bytecode_cache() -> None:
    """Let child processes keep compiled modules, outside the repository.

    With ``PYTHONDONTWRITEBYTECODE`` set, every process compiles every module it imports;
    ``serve --workers N`` children that take longer than uvicorn's 5 s health check to start are
    killed and restarted for ever. The cache goes to a temporary directory instead.
    """
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ.setdefault(
        "PYTHONPYCACHEPREFIX", str(Path(tempfile.gettempdir()) / "bench-backend-poll-pycache")
    )


def backend_command() -> list[str]:
    script = Path(sys.executable).parent / "customer-backend"
    if script.exists():
        return [str(script)]
    found = shutil.which("customer-backend")
    return [found] if found else [sys.executable, "-m", "customer_backend.cli"]


def wait_until_serving(base_url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"customer-backend serve exited with {process.returncode}")
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("customer-backend serve did not answer /healthz within 180 s")


async def seed_tasks(database: str, bucket_root: Path, *, count: int, due: bool) -> None:
    """Replace the queue with ``count`` pending deploy tasks (due now, or a day away)."""
    chart = b"bench chart"
    values = b"replicaCount: 1\n"
    for key, data in (
        ("artifacts/helm/wrktalk-9.9.9.tgz", chart),
        ("config/values.r1.yaml", values),
    ):
        path = bucket_root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    def ref(key: str, data: bytes) -> dict[str, Any]:
        return {
            "bucketPath": key,
            "sha256": hashlib.sha256(data).hexdigest(),
            "sizeBytes": len(data),
        }

    payload: dict[str, Any] = {
        "version": "9.9.9",
        "chart": {
            **ref("artifacts/helm/wrktalk-9.9.9.tgz", chart),
            "type": "helm",
            "version": "9.9.9",
        },
        "imageTags": {"backend": "b", "media": "m", "controlTower": "c", "agent": "a"},
        "values": ref("config/values.r1.yaml", values),
        "env": None,
        "newNonEssentialEnvs": [],
        "previous": None,
    }
    now = datetime.now(UTC)
    first = now - timedelta(minutes=1) if due else now + timedelta(days=1)
    connection = await asyncpg.connect(database_dsn(database))
    try:
        await connection.execute("TRUNCATE agent_task, notification, installation_state CASCADE")
        await connection.execute(
            """
            INSERT INTO agent_task (id, type, status, payload, execute_after, attempts,
                                    max_attempts, created_at, updated_at)
            SELECT gen_random_uuid(), 'deploy', 'pending', $1::jsonb,
                   $2::timestamptz + i * interval '1 millisecond', 0, 3, $3, $3
            FROM generate_series(1, $4::int) AS i
            """,
            json.dumps(payload),
            first,
            now,
            count,
        )
        await connection.execute("ANALYZE agent_task")
    finally:
        await connection.close()


# --- main ---------------------------------------------------------------------------------


HEADER = (
    f"{'scenario':<12} {'mode':<7} {'offered':>12} {'answered':>11} "
    f"{'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'claimed':>7} {'errors':>6} "
    f"{'srv us':>8} {'pg us':>6} {'gen us':>6} {'load':>5}"
)
LEGEND = (
    "srv us / pg us / gen us: CPU time per answered poll in the server processes, in the "
    "PostgreSQL backends serving them and in the load generators; load: the 1-minute load "
    "average at the end of the run (other work on the machine competes for the same CPUs)."
)


class CpuMeter:
    """CPU seconds used by the server process tree and by the database's backends."""

    def __init__(self, server_pid: int, database: str) -> None:
        self.server = psutil.Process(server_pid)
        self.database = database

    def server_seconds(self) -> float:
        total = 0.0
        for process in [self.server, *self.server.children(recursive=True)]:
            try:
                times = process.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += times.user + times.system
        return total

    async def database_seconds(self) -> dict[int, float]:
        """CPU seconds of each backend connected to the bench database, by pid."""
        connection = await asyncpg.connect(ADMIN_DSN)
        try:
            rows = await connection.fetch(
                "SELECT pid FROM pg_stat_activity WHERE datname = $1", self.database
            )
        finally:
            await connection.close()
        seconds: dict[int, float] = {}
        for row in rows:
            try:
                times = psutil.Process(row["pid"]).cpu_times()
            except psutil.Error:
                continue
            seconds[row["pid"]] = times.user + times.system
        return seconds

    def sample(self) -> tuple[float, dict[int, float]]:
        return self.server_seconds(), asyncio.run(self.database_seconds())

    @staticmethod
    def database_difference(before: dict[int, float], after: dict[int, float]) -> float:
        """What the backends alive at the end spent during the run (one that closed during
        the run is not counted, so this is a lower bound)."""
        return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


def print_table(measurements: list[Measurement]) -> None:
    print()
    print(HEADER)
    for measurement in measurements:
        print(measurement.line())
    print(LEGEND)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2, help="server processes")
    parser.add_argument("--concurrency", type=int, default=8, help="connections in all")
    parser.add_argument("--rate", type=float, default=TARGET_RATE, help="paced polls per second")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per run")
    parser.add_argument("--generators", type=int, default=2, help="load generator processes")
    parser.add_argument("--pool-size", type=int, default=10, help="DB connections per worker")
    parser.add_argument(
        "--scenarios", default="empty,10k-not-due,10k-due", help="comma-separated scenarios"
    )
    parser.add_argument(
        "--client",
        choices=["raw", "aiohttp", "httpx"],
        default="raw",
        help="load generator client",
    )
    args = parser.parse_args()
    use_bytecode_cache()

    database = f"bench_backend_poll_{uuid.uuid4().hex[:8]}"
    bucket_root = Path(tempfile.mkdtemp(prefix="bench-backend-bucket-"))
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    environment = server_environment(database, bucket_root, args.pool_size)
    server: subprocess.Popen[bytes] | None = None
    measurements: list[Measurement] = []
    asyncio.run(create_database(database))
    try:
        subprocess.run(
            [*backend_command(), "migrate"], env=environment, check=True, capture_output=True
        )
        server = subprocess.Popen(
            [
                *backend_command(),
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                str(args.workers),
            ],
            env=environment,
        )
        wait_until_serving(base_url, server)
        meter = CpuMeter(server.pid, database)
        print(
            f"customer-backend serve --workers {args.workers} on {os.cpu_count()} CPUs; "
            f"{args.generators} {args.client} load generator processes; "
            f"{args.duration:.0f} s per run; "
            f"PostgreSQL database {database}"
        )
        print(HEADER, flush=True)
        for scenario in args.scenarios.split(","):
            path = POLL_PATH
            if scenario == "healthz":
                path = "/healthz"
            elif scenario == "empty":
                asyncio.run(seed_tasks(database, bucket_root, count=0, due=False))
            elif scenario == "10k-not-due":
                asyncio.run(seed_tasks(database, bucket_root, count=QUEUED_TASKS, due=False))
            elif scenario == "10k-due":
                asyncio.run(seed_tasks(database, bucket_root, count=QUEUED_TASKS, due=True))
            else:
                raise SystemExit(f"unknown scenario {scenario!r}")
            modes = ["closed"] if scenario in {"10k-due", "healthz"} else ["closed", "paced"]
            for mode in modes:
                server_before, database_before = meter.sample()
                measurement = run_load(
                    base_url,
                    scenario=scenario,
                    mode=mode,
                    generators=args.generators,
                    concurrency=args.concurrency,
                    rate=args.rate,
                    duration=args.duration,
                    client_kind=args.client,
                    path=path,
                )
                server_after, database_after = meter.sample()
                measurement.server_cpu_seconds = server_after - server_before
                measurement.database_cpu_seconds = CpuMeter.database_difference(
                    database_before, database_after
                )
                measurement.load_average = os.getloadavg()[0]
                measurements.append(measurement)
                print(measurement.line(), flush=True)
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
        asyncio.run(drop_database(database))
        shutil.rmtree(bucket_root, ignore_errors=True)

    print_table(measurements)
    paced = [m for m in measurements if m.scenario == "10k-not-due" and m.mode == "paced"]
    if not paced:
        return 0
    target = paced[0]
    met = target.rate >= TARGET_RATE * 0.98 and target.percentile(0.99) < TARGET_P99_MS
    print(
        f"\ntarget {TARGET_RATE:.0f} polls/s with p99 < {TARGET_P99_MS:.0f} ms "
        f"(10k queued, paced): {'met' if met else 'NOT met'} "
        f"({target.rate:.0f}/s, p99 {target.percentile(0.99):.2f} ms, "
        f"median {statistics.median(target.latencies_ms):.2f} ms)"
    )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
