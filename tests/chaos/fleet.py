"""A fleet of customer endpoints on loopback, and the GCC rows that send a release to it.

The organizations, their secrets and the draft release are the fan-out benchmark's
(``bench/gcc_fanout.py``): organization ``i`` is ``fanout-{i:06d}``, its endpoint ends in
``/api/deployment/webhook/{i}`` and its secret is ``secret_of(i)``. The receivers here differ
from the benchmark's in what they count: every ``webhook-id`` per organization, so a test can
tell a repeat of one delivery (same id, allowed) from a second delivery (another id, never).

Slow organizations point at a raw TCP server that reads one byte a second and answers only
once it has read the whole request: in practice never, within a webhook's timeout.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg
import httpx

from bench.gcc_fanout import insert_draft_release, insert_organizations, publish, secret_of
from wrktalk_testing.network import free_port

WEBHOOK_PATH = "/api/deployment/webhook/"

__all__ = [
    "FleetReceivers",
    "ReceiverStats",
    "delivery_state",
    "insert_draft_release",
    "insert_fleet",
    "publish",
    "target_webhook_ids",
]


# --- the receiver process ------------------------------------------------------------------


class _Counts:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.ids: dict[int, dict[str, int]] = {}
        self.received = 0
        self.bad_signature = 0
        self.slow_connections = 0

    def as_json(self) -> bytes:
        return json.dumps(
            {
                "received": self.received,
                "badSignature": self.bad_signature,
                "slowConnections": self.slow_connections,
                "ids": self.ids,
            }
        ).encode()


def _receiver_app(counts: _Counts, delay_seconds: float) -> Any:
    """A raw ASGI app: verify each webhook, count its id per organization, answer 200."""
    from signing import WebhookVerificationError, verify

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
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
            await _answer(send, 200, counts.as_json())
            return
        if path == "/reset":
            counts.reset()
            await _answer(send, 200, b"{}")
            return
        counts.received += 1
        headers = {name.decode(): value.decode() for name, value in scope["headers"]}
        index = int(path.removeprefix(WEBHOOK_PATH))
        try:
            verify(secret_of(index), headers, bytes(body))
        except (WebhookVerificationError, ValueError):
            counts.bad_signature += 1
            await _answer(send, 401, b'{"error":"unauthorized"}')
            return
        seen = counts.ids.setdefault(index, {})
        seen[headers["webhook-id"]] = seen.get(headers["webhook-id"], 0) + 1
        # a customer's backend takes a moment to record a webhook; it also spreads a batch
        # over time, so that a fault can land in the middle of one
        await asyncio.sleep(delay_seconds)
        await _answer(send, 200, b'{"received":true}')

    return app


async def _answer(send: Any, status: int, payload: bytes) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(payload))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


def _slow_reader(counts: _Counts) -> Any:
    async def read_slowly(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        counts.slow_connections += 1
        request = bytearray()
        try:
            while b"\r\n\r\n" not in request:
                byte = await reader.read(1)
                if not byte:
                    return
                request += byte
                await asyncio.sleep(1.0)
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            await writer.drain()
        except OSError:
            pass
        finally:
            writer.close()

    return read_slowly


def _listener(port: int) -> socket.socket:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(2048)
    return listener


def serve_fleet(fast_ports: list[int], slow_port: int, delay_seconds: float) -> None:
    """The receiver process: the ASGI app on ``fast_ports``, the slow reader on ``slow_port``."""
    import uvicorn

    async def main() -> None:
        counts = _Counts()
        config = uvicorn.Config(
            _receiver_app(counts, delay_seconds),
            log_level="warning",
            access_log=False,
            http="httptools",
            lifespan="on",
            timeout_keep_alive=60,
        )
        slow = await asyncio.start_server(_slow_reader(counts), sock=_listener(slow_port))
        async with slow:
            await uvicorn.Server(config).serve(sockets=[_listener(port) for port in fast_ports])

    asyncio.run(main())


# --- the test's side -------------------------------------------------------------------------


@dataclass
class ReceiverStats:
    """What the receivers counted."""

    received: int
    bad_signature: int
    slow_connections: int
    ids: dict[int, dict[str, int]] = field(default_factory=dict)

    @property
    def organizations(self) -> int:
        """Organizations that received at least one webhook."""
        return len(self.ids)

    @property
    def repeats(self) -> int:
        """Requests beyond the first of each webhook id."""
        return sum(count - 1 for seen in self.ids.values() for count in seen.values())

    def organizations_with_several_ids(self) -> list[int]:
        """Organizations that received two different webhook ids (two deliveries, not one)."""
        return sorted(index for index, seen in self.ids.items() if len(seen) > 1)


class FleetReceivers:
    """One receiver process serving every organization of the fleet on loopback."""

    def __init__(self, *, fast_ports: int = 2, delay_seconds: float = 0.02) -> None:
        """Choose ports; nothing runs until :meth:`start`."""
        self.fast_ports = [free_port() for _ in range(fast_ports)]
        self.slow_port = free_port()
        self.delay_seconds = delay_seconds
        self._process: Any = None

    def start(self) -> FleetReceivers:
        """Start the process and wait until it answers."""
        context = multiprocessing.get_context("spawn")
        self._process = context.Process(
            target=serve_fleet,
            args=(self.fast_ports, self.slow_port, self.delay_seconds),
            daemon=True,
        )
        self._process.start()
        deadline = time.monotonic() + 60
        while True:
            try:
                self.stats()
                return self
            except httpx.HTTPError:
                if time.monotonic() > deadline or not self._process.is_alive():
                    raise RuntimeError("the fleet's receivers did not start") from None
                time.sleep(0.2)

    def stats(self) -> ReceiverStats:
        """The counts so far."""
        body = httpx.get(f"http://127.0.0.1:{self.fast_ports[0]}/stats", timeout=10).json()
        return ReceiverStats(
            received=body["received"],
            bad_signature=body["badSignature"],
            slow_connections=body["slowConnections"],
            ids={int(index): seen for index, seen in body["ids"].items()},
        )

    def reset(self) -> None:
        """Forget every count (between two tests)."""
        httpx.post(f"http://127.0.0.1:{self.fast_ports[0]}/reset", timeout=10)

    def close(self) -> None:
        """Stop the process."""
        if self._process is not None:
            self._process.terminate()
            self._process.join(timeout=10)


async def insert_fleet(
    dsn: str,
    count: int,
    receivers: FleetReceivers,
    now: datetime,
    *,
    slow: Iterable[int] = (),
) -> None:
    """``count`` organizations served by ``receivers``, those in ``slow`` by the slow reader."""
    await insert_organizations(dsn, count, receivers.fast_ports, now)
    slow_indexes = sorted(slow)
    if not slow_indexes:
        return
    connection = await asyncpg.connect(dsn)
    try:
        await connection.executemany(
            "UPDATE organization SET webhook_endpoint = $2 WHERE name = $1",
            [
                (
                    f"fanout-{index:06d}",
                    f"http://127.0.0.1:{receivers.slow_port}{WEBHOOK_PATH}{index}",
                )
                for index in slow_indexes
            ],
        )
    finally:
        await connection.close()


async def target_webhook_ids(dsn: str) -> dict[int, str]:
    """Each fleet organization's webhook id, as GCC recorded it on the target."""
    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetch(
            "SELECT o.name, t.webhook_id FROM deployment_target t "
            "JOIN organization o ON o.id = t.organization_id"
        )
    finally:
        await connection.close()
    return {int(row["name"].removeprefix("fanout-")): row["webhook_id"] for row in rows}


@dataclass(frozen=True)
class DeliveryState:
    """The deployment targets' delivery columns, counted."""

    targets: int
    acknowledged: int
    failed: int
    retried: int
    attempts: int

    @property
    def finished(self) -> int:
        """Targets acknowledged or given up on."""
        return self.acknowledged + self.failed


async def delivery_state(dsn: str, *, names: Iterable[str] | None = None) -> DeliveryState:
    """Count the targets (of the organizations ``names`` only, when given)."""
    connection = await asyncpg.connect(dsn)
    try:
        row = await connection.fetchrow(
            """
            SELECT count(*) AS targets,
                   count(*) FILTER (WHERE t.webhook_acked) AS acknowledged,
                   count(*) FILTER (WHERE t.webhook_failed) AS failed,
                   count(*) FILTER (WHERE t.webhook_attempts > 1) AS retried,
                   coalesce(sum(t.webhook_attempts), 0) AS attempts
            FROM deployment_target t JOIN organization o ON o.id = t.organization_id
            WHERE $1::text[] IS NULL OR o.name = ANY($1::text[])
            """,
            None if names is None else list(names),
        )
        assert row is not None
        return DeliveryState(**dict(row))
    finally:
        await connection.close()
