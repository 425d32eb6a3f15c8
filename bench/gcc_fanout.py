"""Webhook fan-out: deliveries per second of one ``gcc worker`` publishing to a large fleet.

The script creates its own database on the machine's PostgreSQL (dropped at the end), claims a
Redis database number for the Celery broker, and inserts ``--organizations`` organizations
whose webhook endpoints are served on loopback by ``--receivers`` receiver processes (each a
raw ASGI app under uvicorn listening on ``--ports`` ports, so the fleet spreads over several
origins). Every receiver verifies the Standard Webhooks signature of each request with the
organization's secret and counts distinct webhook ids.

It then starts ONE ``gcc worker`` process (one pool process), inserts a release with its
artifacts, publishes it through the releases service (which creates the targets and enqueues
``delivery.dispatch_due`` after the commit, as the API does), sends ``delivery.dispatch_due``
every few seconds as beat would, and waits until every target is acknowledged.

Printed: the publish time, deliveries per second from the publish commit to the last
acknowledgement (and over the first-to-last acknowledgement window), the worker's CPU time per
delivery, and what the receivers counted.

    uv run python bench/gcc_fanout.py [--organizations 10000] [--receivers 4] [--ports 2]
        [--batch-size 500] [--concurrency 100]

The exit status is 1 when fewer than 1,000 deliveries per second were reached or a delivery
is missing.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import multiprocessing
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gcc_fleet import plain_dsn, scratch_database

from wrktalk_testing.network import free_port
from wrktalk_testing.redis_db import claim_redis_db, release_redis_db

REDIS_BASE = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379")
TARGET_RATE = 1_000.0
VERSION = "9.0.0"
BEAT_INTERVAL_SECONDS = 5.0


def secret_of(index: int) -> str:
    """The webhook secret of organization ``index``; receivers derive it from the path."""
    return "whsec_" + base64.b64encode(hashlib.sha256(f"fanout-{index}".encode()).digest()).decode()


# --- receivers --------------------------------------------------------------------------------


def receiver_app() -> Any:
    """A raw ASGI customer endpoint: verify, count distinct ids, answer 200."""
    from signing import WebhookVerificationError, verify

    seen: set[str] = set()
    counts = {"received": 0, "bad_signature": 0}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = bytearray()
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        path: str = scope["path"]
        if path == "/stats":
            payload = json.dumps({**counts, "distinct": len(seen)}).encode()
            await _answer(send, 200, payload)
            return
        headers = {name.decode(): value.decode() for name, value in scope["headers"]}
        counts["received"] += 1
        try:
            verify(secret_of(int(path.rsplit("/", 1)[-1])), headers, bytes(body))
        except (WebhookVerificationError, ValueError):
            counts["bad_signature"] += 1
            await _answer(send, 401, b'{"error":"unauthorized"}')
            return
        seen.add(headers["webhook-id"])
        await _answer(send, 200, b'{"received":true}')

    return app


async def _answer(send: Any, status: int, payload: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


def run_receiver(ports: list[int]) -> None:
    """One receiver process serving the same app on several ports."""
    import uvicorn

    sockets = []
    for port in ports:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(2048)
        sockets.append(listener)
    config = uvicorn.Config(
        receiver_app(),
        log_level="warning",
        access_log=False,
        http="httptools",
        loop="uvloop",
        lifespan="on",
        timeout_keep_alive=60,
    )
    uvicorn.Server(config).run(sockets=sockets)


def start_receivers(count: int, ports_each: int) -> tuple[list[Any], list[int]]:
    context = multiprocessing.get_context("spawn")
    processes, all_ports = [], []
    for _ in range(count):
        ports = [free_port() for _ in range(ports_each)]
        process = context.Process(target=run_receiver, args=(ports,), daemon=True)
        process.start()
        processes.append(process)
        all_ports += ports
    deadline = time.monotonic() + 60
    for port in all_ports:
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/stats", timeout=1)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"receiver on port {port} did not start") from None
                time.sleep(0.2)
    return processes, all_ports


def receiver_totals(ports: list[int]) -> dict[str, int]:
    totals = {"received": 0, "bad_signature": 0, "distinct": 0}
    # ports of one process share counters: read one port per process (the first of each group)
    for port in ports:
        stats = httpx.get(f"http://127.0.0.1:{port}/stats", timeout=10).json()
        for key in totals:
            totals[key] += stats[key]
    return totals


# --- database -----------------------------------------------------------------------------


async def insert_organizations(dsn: str, count: int, ports: list[int], now: datetime) -> None:
    records = [
        (
            uuid.uuid4(),
            f"fanout-{index:06d}",
            "kubernetes" if index % 4 else "docker",
            f"http://127.0.0.1:{ports[index % len(ports)]}/api/deployment/webhook/{index}",
            secret_of(index),
            hashlib.sha256(f"key-{index}".encode()).hexdigest(),
            now + timedelta(days=365),
            "2.0.0",
            "unknown",
            False,
            now,
            now,
        )
        for index in range(count)
    ]
    connection = await asyncpg.connect(dsn)
    try:
        await connection.copy_records_to_table(
            "organization",
            records=records,
            columns=[
                "id",
                "name",
                "deployment_type",
                "webhook_endpoint",
                "webhook_secret",
                "api_key_hash",
                "license_expires_at",
                "current_version",
                "health_status",
                "is_online",
                "created_at",
                "updated_at",
            ],
        )
        await connection.execute("ANALYZE organization")
    finally:
        await connection.close()


async def insert_draft_release(dsn: str, now: datetime) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(
            """
            INSERT INTO release (id, version, status, image_tags, is_forced,
                is_migration_required, release_notes, new_non_essential_envs, created_by,
                created_at, updated_at)
            VALUES ($1, $2, 'draft', $3, false, false, 'Fan-out benchmark', '[]', 'bench',
                $4, $4)
            """,
            uuid.uuid4(),
            VERSION,
            json.dumps({"backend": "sha-bench01", "media": "sha-bench02"}),
            now,
        )
        for artifact_type, path, digest in (
            ("helm", f"charts/helm/wrktalk-{VERSION}.tgz", "a" * 64),
            ("compose", f"charts/compose/wrktalk-{VERSION}-compose.tar.gz", "b" * 64),
        ):
            await connection.execute(
                """
                INSERT INTO artifact (id, version, type, bucket_path, sha256, size_bytes,
                    created_at)
                VALUES ($1, $2, $3, $4, $5, 1024, $6)
                """,
                uuid.uuid4(),
                VERSION,
                artifact_type,
                path,
                digest,
                now,
            )
    finally:
        await connection.close()


async def publish(settings: Any, send_task: Any) -> tuple[float, int]:
    """Publish through the releases service; returns (seconds, targets)."""
    from gcc.releases.service import publish_release
    from servicekit.db import create_engine, create_session_factory, session_scope
    from timekeeping import SystemClock

    engine = create_engine(settings.database_url, pool_size=2)
    try:
        factory = create_session_factory(engine)
        started = time.perf_counter()
        async with session_scope(factory) as session:
            outcome = await publish_release(
                session, clock=SystemClock(), version_text=VERSION, send_task=send_task
            )
        return time.perf_counter() - started, outcome.targets
    finally:
        await engine.dispose()


async def delivery_state(dsn: str) -> dict[str, Any]:
    connection = await asyncpg.connect(dsn)
    try:
        row = await connection.fetchrow(
            """
            SELECT count(*) FILTER (WHERE webhook_acked) AS acknowledged,
                   count(*) FILTER (WHERE webhook_failed) AS failed,
                   count(*) FILTER (WHERE webhook_attempts > 1) AS retried,
                   min(acked_at) AS first_ack, max(acked_at) AS last_ack,
                   count(*) AS targets
            FROM deployment_target
            """
        )
        return dict(row)
    finally:
        await connection.close()


# --- worker -------------------------------------------------------------------------------


def worker_environment(settings: Any, arguments: argparse.Namespace) -> dict[str, str]:
    environment = dict(os.environ)
    # Compiled modules cached outside the tree: the worker starts in seconds, not tens of them.
    environment.pop("PYTHONDONTWRITEBYTECODE", None)
    environment["PYTHONPYCACHEPREFIX"] = os.path.join(tempfile.gettempdir(), "wrktalk-pycache")
    environment.update(
        GCC_DATABASE_URL=settings.database_url,
        GCC_REDIS_URL=settings.redis_url,
        GCC_S3_ENDPOINT_URL="http://127.0.0.1:9",
        GCC_ALLOW_HTTP_WEBHOOKS="true",
        GCC_DELIVERY_BATCH_SIZE=str(arguments.batch_size),
        GCC_DELIVERY_CONCURRENCY=str(arguments.concurrency),
        GCC_LOG_LEVEL=arguments.log_level,
        GCC_LOG_JSON="true",
        GCC_DATABASE_POOL_SIZE="5",
    )
    return environment


def start_worker(
    settings: Any, arguments: argparse.Namespace, log_path: str
) -> subprocess.Popen[bytes]:
    """ONE ``gcc worker`` (one pool process), logging to ``log_path``."""
    with open(log_path, "wb") as log_file:
        return subprocess.Popen(
            [sys.executable, "-m", "gcc.cli", "worker", "--concurrency", "1"],
            env=worker_environment(settings, arguments),
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_for_worker(celery_app: Any, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("gcc worker exited during start-up (see its log)")
        if celery_app.control.ping(timeout=1.0):
            return
    raise RuntimeError("gcc worker did not answer a ping within 120 s")


def cpu_seconds(process: psutil.Process) -> float:
    total = 0.0
    for member in [process, *process.children(recursive=True)]:
        try:
            times = member.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            continue
    return total


async def run(arguments: argparse.Namespace) -> int:
    from gcc.settings import Settings
    from gcc.worker import celery_app, configure_celery

    count = arguments.organizations
    print(
        f"fan-out benchmark: {count} organizations, {arguments.receivers} receiver processes "
        f"x {arguments.ports} ports, batch {arguments.batch_size}, "
        f"concurrency {arguments.concurrency}, {os.cpu_count()} CPUs"
    )
    receivers, ports = start_receivers(arguments.receivers, arguments.ports)
    claim = claim_redis_db(REDIS_BASE)
    log_dir = tempfile.mkdtemp(prefix="gcc-fanout-")
    worker: subprocess.Popen[bytes] | None = None
    try:
        async with scratch_database("fanout") as url:
            dsn = plain_dsn(url)
            settings = Settings(database_url=url, redis_url=claim.url, allow_http_webhooks=True)
            configure_celery(settings)
            now = datetime.now(UTC)
            await insert_organizations(dsn, count, ports, now)
            await insert_draft_release(dsn, now)

            log_path = os.path.join(log_dir, "worker.log")
            worker = start_worker(settings, arguments, log_path)
            await asyncio.to_thread(wait_for_worker, celery_app, worker)
            worker_process = psutil.Process(worker.pid)
            receiver_processes = [psutil.Process(process.pid) for process in receivers]
            cpu_before = cpu_seconds(worker_process)
            receivers_cpu_before = sum(map(cpu_seconds, receiver_processes))
            psutil.cpu_percent(interval=None)  # starts the machine-wide measurement

            def send_task(name: str, *args: Any, **kwargs: Any) -> None:
                celery_app.send_task(name, args=args, kwargs=kwargs)

            publish_seconds, targets = await publish(settings, send_task)
            published_at = time.perf_counter()
            print(f"published to {targets} targets in {publish_seconds:.2f} s")

            last_beat = published_at
            state = await delivery_state(dsn)
            while state["acknowledged"] + state["failed"] < targets:
                if time.perf_counter() - published_at > arguments.timeout:
                    print(f"timed out after {arguments.timeout:.0f} s")
                    break
                if time.perf_counter() - last_beat >= BEAT_INTERVAL_SECONDS:
                    send_task("delivery.dispatch_due")
                    last_beat = time.perf_counter()
                await asyncio.sleep(0.05)
                state = await delivery_state(dsn)
            elapsed = time.perf_counter() - published_at
            worker_cpu = cpu_seconds(worker_process) - cpu_before
            receivers_cpu = sum(map(cpu_seconds, receiver_processes)) - receivers_cpu_before
            machine_busy = psutil.cpu_percent(interval=None) / 100 * (os.cpu_count() or 1) * elapsed

        acknowledged = state["acknowledged"]
        totals = receiver_totals(ports[:: arguments.ports])
        rate = acknowledged / elapsed
        window = (
            (state["last_ack"] - state["first_ack"]).total_seconds()
            if state["first_ack"] is not None
            else 0.0
        )
        print(f"all acknowledged in {elapsed:.2f} s after the publish commit")
        print(f"deliveries per second (publish commit to last ack): {rate:,.0f}")
        if window > 0:
            print(
                f"deliveries per second (first to last ack):          {acknowledged / window:,.0f}"
            )
        print(
            f"acknowledged {acknowledged}/{targets}, failed {state['failed']}, "
            f"retried {state['retried']}"
        )
        per_delivery = worker_cpu / max(acknowledged, 1)
        print(
            f"worker CPU: {worker_cpu:.2f} s, {per_delivery * 1000:.2f} ms per delivery "
            f"(one worker with a CPU to itself: about {1 / max(per_delivery, 1e-9):,.0f}/s)"
        )
        print(
            f"receivers: {totals['received']} requests, {totals['distinct']} distinct webhook "
            f"ids, {totals['bad_signature']} bad signatures, {receivers_cpu:.2f} s CPU"
        )
        capacity = elapsed * (os.cpu_count() or 1)
        print(
            f"machine: {machine_busy / capacity:.0%} of {os.cpu_count()} CPUs busy during the "
            f"fan-out; the worker used {worker_cpu / elapsed:.0%} of one CPU, the receivers "
            f"{receivers_cpu / elapsed:.0%}, everything else (PostgreSQL, Redis, other "
            f"processes) {(machine_busy - worker_cpu - receivers_cpu) / elapsed:.0%}"
        )
        print(f"load average: {', '.join(f'{value:.1f}' for value in os.getloadavg())}")
        print(f"worker log: {log_path}")
        ok = (
            acknowledged == targets == count
            and totals["distinct"] == count
            and totals["bad_signature"] == 0
        )
        if rate < TARGET_RATE:
            print(f"below the target of {TARGET_RATE:,.0f} deliveries per second")
        return 0 if ok and rate >= TARGET_RATE else 1
    finally:
        if worker is not None and worker.poll() is None:
            os.killpg(worker.pid, 15)
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, 9)
        for process in receivers:
            process.terminate()
            process.join(timeout=10)
        release_redis_db(claim)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--organizations", type=int, default=10_000)
    parser.add_argument("--receivers", type=int, default=4, help="receiver processes")
    parser.add_argument("--ports", type=int, default=2, help="ports per receiver process")
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--log-level", default="INFO", help="the worker's log level")
    parser.add_argument("--timeout", type=float, default=300.0)
    arguments = parser.parse_args()
    sys.exit(asyncio.run(run(arguments)))


if __name__ == "__main__":
    main()
