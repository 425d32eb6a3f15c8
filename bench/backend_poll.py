"""Agent polls of ``customer-backend serve``: latency at a fixed rate, throughput, CPU per poll.

One agent polls its own backend every 30 s, so what the poll needs is a low latency and a low
cost per poll, not thousands a second. Target, on this 2-core machine where the load shares the
CPUs: p99 < 20 ms at 500 polls/s with 10,000 tasks queued, and the server CPU per poll printed.

The script creates its own database on the machine's PostgreSQL (dropped at the end) and a
bucket directory (``WRKTALK_BUCKET_PROVIDER=filesystem``, so no S3 is involved), migrates,
starts ``customer-backend serve`` as a subprocess, and drives ``GET /internal/agent/tasks``:

* closed loop: ``wrk`` with ``bench/lua/poll.lua`` over ``--concurrency`` connections, the most
  polls a second the server answers (latency there includes queueing at saturation);
* paced: ``--rate`` polls a second on a fixed schedule from h11 load processes
  (:mod:`loadgen`); each latency counts from the moment the poll was due (no coordinated
  omission), so p99 is what an agent sees at that load.

Scenarios:

1. ``empty``: no task at all;
2. ``10k-not-due``: 10,000 pending tasks whose ``executeAfter`` is a day away, so every poll
   searches the queue, records the poll, and claims nothing (the state every poll of a real
   agent is in, and the one the target is about);
3. ``10k-due`` (closed loop only): 10,000 due tasks; every poll claims one, marks it in
   progress, adds presigned (``file://``) URLs and queues the "started" email;
4. ``healthz`` (closed loop, not run by default): ``GET /healthz``, no database and no
   dependency, the floor of what uvicorn and FastAPI cost per request on the same machine.

    bench/install.sh   # wrk, once
    uv run python bench/backend_poll.py [--workers 2] [--concurrency 8] [--rate 500]
        [--duration 10] [--scenarios empty,10k-not-due,10k-due]

Each row shows the CPU time one answered poll cost in the server processes and in the
PostgreSQL backends serving them. The exit status is 1 when the paced run of ``10k-not-due``
misses the target.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil
from loadgen import CpuMeter, Request, open_loop, run_wrk

from wrktalk_testing.network import free_port

ADMIN_DSN = os.environ.get("BENCH_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
AGENT_SECRET = "bench-agent-secret"  # noqa: S105 - a throwaway secret for the bench server
POLL_PATH = "/internal/agent/tasks"
QUEUED_TASKS = 10_000
TARGET_RATE = 500.0
TARGET_P99_MS = 20.0


def poll_request(rng: random.Random) -> Request:
    """One agent poll."""
    return ("GET", POLL_PATH, [("X-Agent-Secret", AGENT_SECRET)], b"")


@dataclass
class Measurement:
    """One run: what the load saw and what the server and PostgreSQL spent."""

    scenario: str
    mode: str
    offered: str
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    claimed: int
    errors: int
    server_cpu_seconds: float = 0.0
    database_cpu_seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def per_poll_us(self, seconds: float) -> float:
        return seconds / self.requests * 1e6 if self.requests else float("nan")

    def line(self) -> str:
        return (
            f"{self.scenario:<12} {self.mode:<7} {self.offered:>10} {self.rate:>9.0f}/s "
            f"{self.p50_ms:>8.2f} {self.p99_ms:>8.2f} {self.claimed:>7} {self.errors:>6} "
            f"{self.per_poll_us(self.server_cpu_seconds):>8.0f} "
            f"{self.per_poll_us(self.database_cpu_seconds):>6.0f} {os.getloadavg()[0]:>5.1f}"
        )


HEADER = (
    f"{'scenario':<12} {'mode':<7} {'offered':>10} {'answered':>11} {'p50 ms':>8} "
    f"{'p99 ms':>8} {'claimed':>7} {'errors':>6} {'srv us':>8} {'pg us':>6} {'load':>5}"
)
LEGEND = (
    "srv us / pg us: CPU time per answered poll in the server processes and in the PostgreSQL "
    "backends serving them; load: the 1-minute load average at the end of the run (other "
    "work on the machine competes for the same CPUs)."
)


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
                                    created_at, updated_at)
            SELECT gen_random_uuid(), 'deploy', 'pending', $1::jsonb,
                   $2::timestamptz + i * interval '1 millisecond', 0, $3, $3
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


# --- measuring ----------------------------------------------------------------------------


async def database_seconds(database: str) -> dict[int, float]:
    """CPU seconds of each backend connected to the bench database, by pid."""
    connection = await asyncpg.connect(ADMIN_DSN)
    try:
        rows = await connection.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1", database
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


async def claimed_tasks(database: str) -> int:
    connection = await asyncpg.connect(database_dsn(database))
    try:
        count: int = await connection.fetchval(
            "SELECT count(*) FROM agent_task WHERE status <> 'pending'"
        )
    finally:
        await connection.close()
    return count


def run_once(
    base_url: str, server_pid: int, database: str, scenario: str, mode: str, options: Any
) -> Measurement:
    """One closed-loop (wrk) or paced (h11) run, with the CPU it cost."""
    meter = CpuMeter(server_pid)
    database_before = asyncio.run(database_seconds(database))
    claimed_before = asyncio.run(claimed_tasks(database))
    if mode == "closed":
        path = "/healthz" if scenario == "healthz" else POLL_PATH
        meter.start()
        closed = run_wrk(
            f"{base_url}{path}",
            "poll.lua" if scenario != "healthz" else "get.lua",
            seconds=options.duration,
            connections=options.concurrency,
            environment={"BENCH_AGENT_SECRET": AGENT_SECRET},
        )
        meter.stop()
        measurement = Measurement(
            scenario, mode, f"{options.concurrency} conns", closed.requests, closed.seconds,
            closed.p50_ms, closed.p99_ms, 0, closed.non_2xx + closed.socket_errors,
        )  # fmt: skip
    else:
        paced = open_loop(
            base_url,
            poll_request,
            rate=options.rate,
            seconds=options.duration,
            processes=options.generators,
            connections=max(1, options.concurrency // options.generators),
            meters=[meter],
        )
        measurement = Measurement(
            scenario, mode, f"{options.rate:.0f}/s", len(paced.latencies_ms), paced.seconds,
            paced.percentile(0.5), paced.percentile(0.99), 0,
            sum(paced.errors.values()) + paced.unsent,
        )  # fmt: skip
    database_after = asyncio.run(database_seconds(database))
    measurement.claimed = asyncio.run(claimed_tasks(database)) - claimed_before
    measurement.server_cpu_seconds = meter.seconds
    # a backend that closed during the run is not counted: a lower bound
    measurement.database_cpu_seconds = sum(
        seconds - database_before.get(pid, 0.0) for pid, seconds in database_after.items()
    )
    return measurement


# --- main ---------------------------------------------------------------------------------


def run_scenarios(
    base_url: str, server_pid: int, database: str, bucket_root: Path, options: Any
) -> list[Measurement]:
    measurements = []
    for scenario in options.scenarios.split(","):
        if scenario in {"empty", "10k-not-due", "10k-due"}:
            count = 0 if scenario == "empty" else QUEUED_TASKS
            due = scenario == "10k-due"
            asyncio.run(seed_tasks(database, bucket_root, count=count, due=due))
        elif scenario != "healthz":
            raise SystemExit(f"unknown scenario {scenario!r}")
        modes = ["closed"] if scenario in {"10k-due", "healthz"} else ["closed", "paced"]
        for mode in modes:
            measurement = run_once(base_url, server_pid, database, scenario, mode, options)
            measurements.append(measurement)
            print(measurement.line(), flush=True)
    return measurements


def report(measurements: list[Measurement]) -> int:
    print()
    print(HEADER)
    for measurement in measurements:
        print(measurement.line())
    print(LEGEND)
    paced = [m for m in measurements if m.scenario == "10k-not-due" and m.mode == "paced"]
    if not paced:
        return 0
    target = paced[0]
    met = target.rate >= TARGET_RATE * 0.98 and target.p99_ms < TARGET_P99_MS and not target.errors
    print(
        f"\ntarget {TARGET_RATE:.0f} polls/s with p99 < {TARGET_P99_MS:.0f} ms "
        f"(10k queued, paced): {'met' if met else 'NOT met'} "
        f"({target.rate:.0f}/s, p99 {target.p99_ms:.2f} ms, median {target.p50_ms:.2f} ms, "
        f"server CPU {target.per_poll_us(target.server_cpu_seconds):.0f} us per poll)"
    )
    return 0 if met else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2, help="server processes")
    parser.add_argument("--concurrency", type=int, default=8, help="connections in all")
    parser.add_argument("--rate", type=float, default=TARGET_RATE, help="paced polls per second")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per run")
    parser.add_argument("--generators", type=int, default=1, help="paced load processes")
    parser.add_argument("--pool-size", type=int, default=10, help="DB connections per worker")
    parser.add_argument(
        "--scenarios", default="empty,10k-not-due,10k-due", help="comma-separated scenarios"
    )
    options = parser.parse_args()
    use_bytecode_cache()

    database = f"bench_backend_poll_{uuid.uuid4().hex[:8]}"
    bucket_root = Path(tempfile.mkdtemp(prefix="bench-backend-bucket-"))
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    environment = server_environment(database, bucket_root, options.pool_size)
    server: subprocess.Popen[bytes] | None = None
    asyncio.run(create_database(database))
    try:
        subprocess.run(
            [*backend_command(), "migrate"], env=environment, check=True, capture_output=True
        )
        command = [*backend_command(), "serve", "--host", "127.0.0.1", "--port", str(port)]
        server = subprocess.Popen([*command, "--workers", str(options.workers)], env=environment)
        wait_until_serving(base_url, server)
        print(
            f"customer-backend serve --workers {options.workers} on {os.cpu_count()} CPUs; "
            f"{options.duration:.0f} s per run; PostgreSQL database {database}"
        )
        print(HEADER, flush=True)
        measurements = run_scenarios(base_url, server.pid, database, bucket_root, options)
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
        asyncio.run(drop_database(database))
        shutil.rmtree(bucket_root, ignore_errors=True)
    return report(measurements)


if __name__ == "__main__":
    sys.exit(main())
