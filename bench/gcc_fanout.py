"""Webhook fan-out: deliveries per second of one ``gcc worker`` publishing to a large fleet.

The script creates its own database on the machine's PostgreSQL (dropped at the end), starts a
Redis server of its own for the Celery broker, and inserts ``--organizations`` organizations
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
delivery, and what the receivers counted. The anchor, measured before and after the fan-out on
the same receivers: the CPU one process spends on a bare aiohttp POST with a webhook's headers
and body size; the worker's CPU per delivery is printed as a multiple of it, since the machine
is shared and its speed drifts.

Faults, each printed with its own figures:

- ``--slow-percent P``: P% of the organizations point at receivers that read one byte a
  second (they never answer within the webhook timeout; one attempt each), spread over
  ``--slow-ports`` ports (64: in a fleet each slow organization is a receiver host of its own,
  and ``GCC_DELIVERY_PER_HOST_LIMIT`` caps requests per host). The fan-out runs
  twice, first without them (the anchor), and prints when the last fast receiver was
  acknowledged in each run and their ratio (target: under 2x).
- ``--kill-worker-at S``: the worker is SIGKILLed S seconds after the publish and a new one
  started 5 s later; printed: how long after the restart everything was acknowledged (target:
  20 s) and the repeated deliveries (same webhook id; target: at most one group in flight).
- ``--restart-broker-at S``: the broker is a private Redis server, killed S seconds after the
  publish and started again, empty, 10 s later; printed: how long after its return
  everything was acknowledged (target: 20 s).

    uv run python bench/gcc_fanout.py [--organizations 10000] [--receivers 4] [--ports 2]
        [--concurrency 100] [--slow-percent 1] [--kill-worker-at 2] [--restart-broker-at 2]

The exit status is 1 when fewer than 1,000 deliveries per second were reached (runs without
faults), a fast delivery is missing, or a fault's target was missed.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
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
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

from gcc_fleet import plain_dsn, scratch_database

from tools.private_services import PrivateRedis
from wrktalk_testing.network import free_port

TARGET_RATE = 1_000.0
VERSION = "9.0.0"
BEAT_INTERVAL_SECONDS = 5.0
RESTART_AFTER_SECONDS = 5.0
"""How long a killed worker stays down."""
BROKER_DOWN_SECONDS = 10.0
RECOVERY_TARGET_SECONDS = 20.0
SLOW_RATIO_TARGET = 2.0


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
        if path.startswith("/anchor/"):  # the anchor's requests: answered, never counted
            await _answer(send, 200, b'{"received":true}')
            return
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


def run_slow_receiver(ports: list[int]) -> None:
    """Receivers that read one byte a second: they never answer within a webhook timeout."""

    async def read_slowly(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            byte = await reader.read(1)
            while byte:
                await asyncio.sleep(1.0)
                byte = await reader.read(1)
        except OSError:
            pass
        finally:
            writer.close()

    async def main() -> None:
        servers = [
            await asyncio.start_server(read_slowly, "127.0.0.1", port, backlog=2048)
            for port in ports
        ]
        await asyncio.gather(*(server.serve_forever() for server in servers))

    asyncio.run(main())


ANCHOR_REQUESTS = 30_000
ANCHOR_BODY = b'{"event":"release.published","data":' + b'"x"' * 650 + b"}"
"""About the size of a release's webhook body."""


def run_anchor(ports: list[int], count: int, concurrency: int, results: Any) -> None:
    """The anchor: ``count`` bare aiohttp POSTs from one process (uvloop, ``concurrency`` in
    flight, a webhook's headers and body size) to the receivers; puts its CPU per request."""
    import aiohttp
    import uvloop

    async def main() -> float:
        connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=0)
        async with aiohttp.ClientSession(
            connector=connector, cookie_jar=aiohttp.DummyCookieJar(), trust_env=False
        ) as session:
            urls = [f"http://127.0.0.1:{port}/anchor/{index}" for index, port in enumerate(ports)]
            remaining = iter(range(count + concurrency * 10))

            async def worker() -> None:
                for index in remaining:
                    headers = {
                        "webhook-id": f"msg_{index:032x}",
                        "webhook-timestamp": str(int(time.time())),
                        "webhook-signature": "v1," + "A" * 44,
                        "content-type": "application/json",
                        "traceparent": f"00-{index:032x}-{index + 1:016x}-01",
                    }
                    url = urls[index % len(urls)]
                    async with session.post(url, data=ANCHOR_BODY, headers=headers) as answer:
                        await answer.read()
                    if index == concurrency * 10:  # warmed up: the pool is full
                        marks.append(time.process_time())

            marks: list[float] = []
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            return (time.process_time() - marks[0]) / count

    results.put(uvloop.run(main()))


def anchor_cpu_per_request(ports: list[int], concurrency: int) -> float:
    """Run the anchor in a process of its own; its CPU seconds per request."""
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    process = context.Process(
        target=run_anchor, args=(ports, ANCHOR_REQUESTS, concurrency, results), daemon=True
    )
    process.start()
    value = float(results.get(timeout=300))
    process.join(timeout=30)
    return value


def start_slow_receivers(ports_count: int) -> tuple[Any, list[int]]:
    ports = [free_port() for _ in range(ports_count)]
    process = multiprocessing.get_context("spawn").Process(
        target=run_slow_receiver, args=(ports,), daemon=True
    )
    process.start()
    deadline = time.monotonic() + 60
    for port in ports:
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"slow receiver on port {port} did not start") from None
                time.sleep(0.2)
    return process, ports


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


def slow_indexes(count: int, percent: float) -> set[int]:
    """The organizations whose receivers are slow: every (100 / percent)th one."""
    if percent <= 0:
        return set()
    step = max(round(100 / percent), 1)
    return set(range(step // 2, count, step))


async def insert_organizations(
    dsn: str,
    count: int,
    ports: list[int],
    now: datetime,
    *,
    slow: set[int] | None = None,
    slow_ports: list[int] | None = None,
) -> None:
    def port_of(index: int) -> int:
        if slow and slow_ports and index in slow:
            return slow_ports[index % len(slow_ports)]
        return ports[index % len(ports)]

    records = [
        (
            uuid.uuid4(),
            f"fanout-{index:06d}",
            "kubernetes" if index % 4 else "docker",
            f"http://127.0.0.1:{port_of(index)}/api/deployment/webhook/{index}",
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
    from gcc.audit.service import Actor
    from gcc.releases.service import publish_release
    from servicekit.db import create_engine, create_session_factory, session_scope
    from timekeeping import SystemClock

    engine = create_engine(settings.database_url, pool_size=2)
    try:
        factory = create_session_factory(engine)
        started = time.perf_counter()
        async with session_scope(factory) as session:
            outcome = await publish_release(
                session,
                clock=SystemClock(),
                actor=Actor.ci_token(),
                version_text=VERSION,
                send_task=send_task,
            )
        return time.perf_counter() - started, outcome.targets
    finally:
        await engine.dispose()


PROGRESS_SECONDS = 0.25
"""How often the run looks whether everything is settled (the figures come from the rows'
own timestamps, so this only decides when the run notices)."""


async def unsettled(connection: asyncpg.Connection) -> int:
    """Targets neither acknowledged nor failed: a count over the due index's entries only, so
    watching the run costs PostgreSQL little next to the fan-out it watches."""
    value = await connection.fetchval(
        "SELECT count(*) FROM deployment_target"
        " WHERE webhook_acked = false AND webhook_failed = false"
    )
    return int(value)


async def delivery_state(connection: asyncpg.Connection) -> dict[str, Any]:
    """Counts and the last acknowledgement and failure times (read once, at the end)."""
    row = await connection.fetchrow(
        """
        SELECT count(*) FILTER (WHERE webhook_acked) AS acknowledged,
               count(*) FILTER (WHERE webhook_failed) AS failed,
               count(*) FILTER (WHERE webhook_attempts > 1) AS retried,
               min(acked_at) AS first_ack, max(acked_at) AS last_ack,
               max(updated_at) FILTER (WHERE webhook_failed) AS last_failure,
               count(*) AS targets
        FROM deployment_target
        """
    )
    assert row is not None
    return dict(row)


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
        GCC_DELIVERY_CONCURRENCY=str(arguments.concurrency),
        GCC_WEBHOOK_TIMEOUT_SECONDS=str(arguments.webhook_timeout),
        # a slow receiver is tried once: the run ends when it has timed out
        GCC_WEBHOOK_MAX_ATTEMPTS="1" if arguments.slow_percent else "3",
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


@dataclass
class Outcome:
    """What one fan-out run measured."""

    ok: bool
    elapsed: float
    fast_done: float | None = None
    recovered_in: float | None = None
    repeats: int = 0
    rate: float = 0.0


async def run(
    arguments: argparse.Namespace, private_redis: Any, *, slow_percent: float, faults: bool
) -> Outcome:
    """One fan-out; ``faults``: apply ``--kill-worker-at`` and ``--restart-broker-at``."""
    from gcc.settings import Settings
    from gcc.worker import celery_app, configure_celery

    count = arguments.organizations
    slow = slow_indexes(count, slow_percent)
    kill_at = arguments.kill_worker_at if faults else None
    broker_at = arguments.restart_broker_at if faults else None
    print(
        f"\nfan-out: {count} organizations ({len(slow)} slow), {arguments.receivers} receiver "
        f"processes x {arguments.ports} ports, concurrency {arguments.concurrency}, "
        f"{os.cpu_count()} CPUs"
        + (f", worker killed at {kill_at:g} s" if kill_at is not None else "")
        + (f", broker down at {broker_at:g} s" if broker_at is not None else "")
    )
    receivers, ports = start_receivers(arguments.receivers, arguments.ports)
    slow_process, slow_ports = start_slow_receivers(arguments.slow_ports) if slow else (None, [])
    broker_url = f"{private_redis.url}/0"
    log_dir = tempfile.mkdtemp(prefix="gcc-fanout-")
    worker: subprocess.Popen[bytes] | None = None
    try:
        async with scratch_database("fanout") as url:
            dsn = plain_dsn(url)
            settings = Settings(database_url=url, redis_url=broker_url, allow_http_webhooks=True)
            configure_celery(settings)
            now = datetime.now(UTC)
            await insert_organizations(dsn, count, ports, now, slow=slow, slow_ports=slow_ports)
            await insert_draft_release(dsn, now)

            anchor_before = anchor_cpu_per_request(ports, arguments.concurrency)
            log_path = os.path.join(log_dir, "worker.log")
            worker = start_worker(settings, arguments, log_path)
            await asyncio.to_thread(wait_for_worker, celery_app, worker)
            worker_process = psutil.Process(worker.pid)
            receiver_processes = [psutil.Process(process.pid) for process in receivers]
            cpu_before = cpu_seconds(worker_process)
            dead_workers_cpu = 0.0
            receivers_cpu_before = sum(map(cpu_seconds, receiver_processes))
            psutil.cpu_percent(interval=None)  # starts the machine-wide measurement

            def send_task(name: str, *args: Any, **kwargs: Any) -> None:
                celery_app.send_task(name, args=args, kwargs=kwargs)

            def beat() -> None:
                try:
                    send_task("delivery.dispatch_due")
                except Exception as exc:  # the broker is down: beat's next tick
                    print(f"  beat: not sent ({type(exc).__name__})")

            publish_seconds, targets = await publish(settings, send_task)
            published_at = time.perf_counter()
            published_wall = datetime.now(UTC)
            print(f"published to {targets} targets in {publish_seconds:.2f} s")

            last_beat = published_at
            restarted_at: float | None = None
            restarted_wall: datetime | None = None
            worker_cpu_sample = 0.0
            watcher = await asyncpg.connect(dsn)
            try:
                remaining = await unsettled(watcher)
                while remaining:
                    elapsed_now = time.perf_counter() - published_at
                    if elapsed_now > arguments.timeout:
                        print(f"timed out after {arguments.timeout:.0f} s")
                        break
                    if kill_at is not None and restarted_at is None and elapsed_now >= kill_at:
                        dead_workers_cpu += worker_cpu_sample - cpu_before
                        os.killpg(worker.pid, 9)
                        worker.wait()
                        print(f"  worker killed at {elapsed_now:.1f} s, {remaining} unsettled")
                        await asyncio.sleep(RESTART_AFTER_SECONDS)
                        worker = start_worker(settings, arguments, log_path + ".2")
                        worker_process = psutil.Process(worker.pid)
                        cpu_before = 0.0
                        restarted_at = time.perf_counter()
                        restarted_wall = datetime.now(UTC)
                    if broker_at is not None and restarted_at is None and elapsed_now >= broker_at:
                        private_redis.kill()
                        print(f"  broker killed at {elapsed_now:.1f} s, {remaining} unsettled")
                        await asyncio.sleep(BROKER_DOWN_SECONDS)
                        private_redis.start()
                        restarted_at = time.perf_counter()
                        restarted_wall = datetime.now(UTC)
                    if time.perf_counter() - last_beat >= BEAT_INTERVAL_SECONDS:
                        await asyncio.to_thread(beat)
                        last_beat = time.perf_counter()
                    await asyncio.sleep(PROGRESS_SECONDS)
                    remaining = await unsettled(watcher)
                    with contextlib.suppress(psutil.NoSuchProcess):
                        worker_cpu_sample = cpu_seconds(worker_process)
                noticed = time.perf_counter() - published_at
                worker_cpu = dead_workers_cpu + cpu_seconds(worker_process) - cpu_before
                receivers_cpu = sum(map(cpu_seconds, receiver_processes)) - receivers_cpu_before
                machine_busy = (
                    psutil.cpu_percent(interval=None) / 100 * (os.cpu_count() or 1) * noticed
                )
                state = await delivery_state(watcher)
            finally:
                await watcher.close()
            # The figures come from the rows' own times (the worker's clock is this machine's):
            # the last acknowledgement, or the last failure when a slow receiver ended later.
            settled_times = [
                moment for moment in (state["last_ack"], state["last_failure"]) if moment
            ]
            elapsed = (
                (max(settled_times) - published_wall).total_seconds()
                if settled_times and not remaining
                else noticed
            )
            fast_done = (
                (state["last_ack"] - published_wall).total_seconds()
                if state["last_ack"] is not None and state["acknowledged"] >= count - len(slow)
                else None
            )

        # the anchor, before and after the fan-out: the machine is shared, its speed drifts
        anchor = (anchor_before + anchor_cpu_per_request(ports, arguments.concurrency)) / 2
        print(
            f"anchor: one bare aiohttp POST from one process costs {anchor * 1000:.3f} ms of CPU "
            f"here and now (before and after the fan-out, {ANCHOR_REQUESTS:,} requests each, "
            f"{arguments.concurrency} in flight)"
        )
        acknowledged = state["acknowledged"]
        totals = receiver_totals(ports[:: arguments.ports])
        rate = acknowledged / elapsed
        window = (
            (state["last_ack"] - state["first_ack"]).total_seconds()
            if state["first_ack"] is not None
            else 0.0
        )
        print(f"all settled in {elapsed:.2f} s after the publish commit")
        if slow:
            print(f"every fast receiver acknowledged {fast_done or float('nan'):.2f} s after it")
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
            f"worker CPU: {worker_cpu:.2f} s, {per_delivery * 1000:.2f} ms per delivery, "
            f"{per_delivery / anchor:.2f}x the anchor's bare POST "
            f"(one worker with a CPU to itself: about {1 / max(per_delivery, 1e-9):,.0f}/s)"
        )
        repeats = totals["received"] - totals["distinct"]
        print(
            f"receivers: {totals['received']} requests, {totals['distinct']} distinct webhook "
            f"ids, {repeats} repeated, {totals['bad_signature']} bad signatures, "
            f"{receivers_cpu:.2f} s CPU"
        )
        recovered_in = None
        if restarted_wall is not None:
            recovered_in = (published_wall - restarted_wall).total_seconds() + elapsed
            what = "the worker's restart" if kill_at is not None else "the broker's return"
            when = (
                f"{recovered_in:.2f} s after {what}"
                if recovered_in >= 0
                else f"{-recovered_in:.2f} s before {what} (the pump needs no broker once running)"
            )
            print(f"all acknowledged {when} (target: {RECOVERY_TARGET_SECONDS:g} s after it)")
        capacity = noticed * (os.cpu_count() or 1)
        print(
            f"machine: {machine_busy / capacity:.0%} of {os.cpu_count()} CPUs busy during the "
            f"fan-out; the worker used {worker_cpu / noticed:.0%} of one CPU, the receivers "
            f"{receivers_cpu / noticed:.0%}, everything else (PostgreSQL, Redis, other "
            f"processes) {(machine_busy - worker_cpu - receivers_cpu) / noticed:.0%}"
        )
        print(f"load average: {', '.join(f'{value:.1f}' for value in os.getloadavg())}")
        print(f"worker log: {log_path}")
        ok = (
            acknowledged == targets - len(slow) == count - len(slow)
            and totals["distinct"] == count - len(slow)
            and totals["bad_signature"] == 0
        )
        if recovered_in is not None:
            ok = ok and recovered_in <= RECOVERY_TARGET_SECONDS
        return Outcome(ok, elapsed, fast_done, recovered_in, repeats, rate)
    finally:
        if worker is not None and worker.poll() is None:
            os.killpg(worker.pid, 15)
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, 9)
        for process in [*receivers, *([slow_process] if slow_process else [])]:
            process.terminate()
            process.join(timeout=10)


async def run_all(arguments: argparse.Namespace) -> int:
    """The fan-out as asked; with slow receivers, the unharmed anchor first.

    The broker is a Redis server of the benchmark's own (the broker restart kills it; the
    machine's shared one is left to the test sessions), one for every run: Celery keeps its
    connection pool for the life of the process.
    """
    private_redis = PrivateRedis().start()
    try:
        return await _run_all(arguments, private_redis)
    finally:
        private_redis.close()


async def _run_all(arguments: argparse.Namespace, private_redis: Any) -> int:
    faulted = arguments.kill_worker_at is not None or arguments.restart_broker_at is not None
    if not arguments.slow_percent:
        outcome = await run(arguments, private_redis, slow_percent=0.0, faults=True)
        if not faulted and outcome.rate < TARGET_RATE:
            print(f"below the target of {TARGET_RATE:,.0f} deliveries per second")
            return 1
        return 0 if outcome.ok else 1
    anchor = await run(arguments, private_redis, slow_percent=0.0, faults=False)
    harmed = await run(arguments, private_redis, slow_percent=arguments.slow_percent, faults=True)
    ratio = (harmed.fast_done or float("inf")) / anchor.elapsed
    print(
        f"\nslow receivers ({arguments.slow_percent:g}%): every fast receiver acknowledged "
        f"{harmed.fast_done or float('nan'):.2f} s after the publish, against "
        f"{anchor.elapsed:.2f} s for the whole fan-out without them: {ratio:.2f}x "
        f"(target: under {SLOW_RATIO_TARGET:g}x)"
    )
    return 0 if anchor.ok and harmed.ok and ratio < SLOW_RATIO_TARGET else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--organizations", type=int, default=10_000)
    parser.add_argument("--receivers", type=int, default=4, help="receiver processes")
    parser.add_argument("--ports", type=int, default=2, help="ports per receiver process")
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--webhook-timeout", type=float, default=10.0)
    parser.add_argument("--slow-percent", type=float, default=0.0)
    parser.add_argument(
        "--slow-ports",
        type=int,
        default=64,
        help="ports the slow receivers listen on (each a receiver host of its own to the "
        "per-host cap; in a fleet every slow organization is one)",
    )
    parser.add_argument("--kill-worker-at", type=float, default=None)
    parser.add_argument("--restart-broker-at", type=float, default=None)
    parser.add_argument("--log-level", default="INFO", help="the worker's log level")
    parser.add_argument("--timeout", type=float, default=300.0)
    arguments = parser.parse_args()
    sys.exit(asyncio.run(run_all(arguments)))


if __name__ == "__main__":
    main()
