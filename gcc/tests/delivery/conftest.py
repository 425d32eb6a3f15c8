"""Customer webhook endpoints on loopback, and rows for the delivery tests.

The receiver is a small HTTP/1.1 server (asyncio and h11, in its own thread) standing for many
customer backends at once: each organization has its path, its secrets and a script of how to
answer (200, 401, 500, too slowly, or by closing the connection). It verifies every signature
against the secrets it holds and records what it received, so tests can count the distinct
webhook ids that were acknowledged.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import h11
import pytest
from sqlmodel import select

from contracts import ArtifactType, DeploymentStatus, ReleaseStatus
from gcc.artifacts.models import Artifact
from gcc.releases.models import DeploymentTarget, Release
from gcc.runtime import Runtime, open_runtime
from gcc.settings import Settings
from servicekit.db import SessionFactory
from signing import WebhookVerificationError, verify
from timekeeping import Clock, ManualClock

CHART_SHA256 = "a" * 64
COMPOSE_SHA256 = "b" * 64

OK = "ok"
REJECT = "reject"
FAIL = "fail"
SLOW = "slow"
CLOSE = "close"
GONE = "gone"
BUSY = "busy"
"""429 with ``Retry-After: 120``."""
UNAVAILABLE_UNTIL = "unavailable-until"
"""503 with a ``Retry-After`` date two hours after the receiver's clock."""


@dataclass(frozen=True)
class ReceivedWebhook:
    """One request as the customer endpoint saw it."""

    organization: str
    webhook_id: str
    timestamp: str
    signature: str
    body: bytes
    verified: bool
    answer: str

    @property
    def headers(self) -> dict[str, str]:
        return {
            "webhook-id": self.webhook_id,
            "webhook-timestamp": self.timestamp,
            "webhook-signature": self.signature,
        }


@dataclass
class _Endpoint:
    secrets: list[str]
    script: deque[str] = field(default_factory=deque)
    then: str = OK


class WebhookReceiver:
    """Many customer endpoints on one loopback port (see the module docstring)."""

    def __init__(self, clock: Clock, *, slow_seconds: float = 1.5) -> None:
        self.clock = clock
        self.slow_seconds = slow_seconds
        self.latency_seconds = 0.0
        """A delay before every answer (a customer that takes its time, not too long)."""
        self.received: list[ReceivedWebhook] = []
        self.connections = 0
        """TCP connections accepted so far."""
        self.in_flight = 0
        self.most_in_flight = 0
        """The most requests this receiver was answering at once."""
        self._endpoints: dict[str, _Endpoint] = {}
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self.port = 0

    def start(self) -> None:
        self._thread.start()
        started = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._serve, "127.0.0.1", 0), self._loop
        )
        self._server = started.result(timeout=10)
        self.port = self._server.sockets[0].getsockname()[1]

    def stop(self) -> None:
        async def close() -> None:
            assert self._server is not None
            self._server.close()
            handlers = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            for task in handlers:
                task.cancel()
            await asyncio.gather(*handlers, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    def endpoint(self, organization: str, *script: str, then: str = OK) -> str:
        """Serve ``organization``: answer as ``script`` says, then ``then``; returns its URL."""
        with self._lock:
            self._endpoints[organization] = _Endpoint([], deque(script), then)
        return f"http://127.0.0.1:{self.port}/hooks/{organization}"

    def trust(self, organization: str, *secrets: str) -> None:
        """The secrets ``organization``'s backend verifies signatures with."""
        with self._lock:
            self._endpoints[organization].secrets = list(secrets)

    def received_by(self, organization: str) -> list[ReceivedWebhook]:
        with self._lock:
            return [hook for hook in self.received if hook.organization == organization]

    def acknowledged_ids(self) -> list[str]:
        """Webhook ids answered 200 after a valid signature, one entry per request."""
        with self._lock:
            return [hook.webhook_id for hook in self.received if hook.answer == OK]

    def _next_answer(self, organization: str) -> tuple[str, list[str]]:
        with self._lock:
            endpoint = self._endpoints.get(organization)
            if endpoint is None:
                return "unknown", []
            answer = endpoint.script.popleft() if endpoint.script else endpoint.then
            return answer, endpoint.secrets

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with self._lock:
            self.connections += 1
        connection = h11.Connection(h11.SERVER)
        try:
            while True:
                request = await self._read_request(connection, reader)
                if request is None:
                    return
                target, headers, body = request
                with self._lock:
                    self.in_flight += 1
                    self.most_in_flight = max(self.most_in_flight, self.in_flight)
                try:
                    keep_open = await self._answer(connection, writer, target, headers, body)
                finally:
                    with self._lock:
                        self.in_flight -= 1
                if not keep_open or connection.our_state is h11.MUST_CLOSE:
                    return
                connection.start_next_cycle()
        except (ConnectionError, h11.RemoteProtocolError, asyncio.CancelledError):
            return
        finally:
            writer.close()

    @staticmethod
    async def _read_request(
        connection: h11.Connection, reader: asyncio.StreamReader
    ) -> tuple[str, dict[str, str], bytes] | None:
        target = ""
        headers: dict[str, str] = {}
        body = bytearray()
        while True:
            event = connection.next_event()
            if event is h11.NEED_DATA:
                data = await reader.read(65536)
                connection.receive_data(data)
                continue
            if isinstance(event, h11.Request):
                target = event.target.decode()
                headers = {name.decode().lower(): value.decode() for name, value in event.headers}
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                return target, headers, bytes(body)
            elif isinstance(event, h11.ConnectionClosed):
                return None

    async def _answer(
        self,
        connection: h11.Connection,
        writer: asyncio.StreamWriter,
        target: str,
        headers: dict[str, str],
        body: bytes,
    ) -> bool:
        organization = target.rsplit("/", 1)[-1]
        answer, secrets = self._next_answer(organization)
        verified = False
        if secrets:
            try:
                verify(secrets, headers, body, now=self.clock.now())
                verified = True
            except WebhookVerificationError:
                verified = False
        if answer == OK and not verified:
            answer = "bad-signature"
        with self._lock:
            self.received.append(
                ReceivedWebhook(
                    organization=organization,
                    webhook_id=headers.get("webhook-id", ""),
                    timestamp=headers.get("webhook-timestamp", ""),
                    signature=headers.get("webhook-signature", ""),
                    body=body,
                    verified=verified,
                    answer=answer,
                )
            )
        if answer == CLOSE:
            return False
        if answer == SLOW:
            await asyncio.sleep(self.slow_seconds)
        elif self.latency_seconds:
            await asyncio.sleep(self.latency_seconds)
        status, text = {
            OK: (200, b'{"received":true}'),
            REJECT: (401, b'{"error":"unauthorized","detail":"signature does not match"}'),
            FAIL: (500, b"backend exploded: database unavailable"),
            SLOW: (200, b'{"received":true}'),
            "bad-signature": (401, b'{"error":"unauthorized","detail":"bad signature"}'),
            GONE: (410, b'{"error":"gone"}'),
            BUSY: (429, b'{"error":"too many requests"}'),
            UNAVAILABLE_UNTIL: (503, b'{"error":"maintenance"}'),
        }.get(answer, (404, b"no such endpoint"))
        extra = []
        if answer == BUSY:
            extra = [("retry-after", "120")]
        elif answer == UNAVAILABLE_UNTIL:
            later = self.clock.now() + timedelta(hours=2)
            extra = [("retry-after", format_datetime(later.astimezone(UTC), usegmt=True))]
        response = h11.Response(
            status_code=status,
            headers=[
                ("content-type", "application/json"),
                ("content-length", str(len(text))),
                *extra,
            ],
        )
        writer.write(connection.send(response) + connection.send(h11.Data(data=text)))
        writer.write(connection.send(h11.EndOfMessage()))
        await writer.drain()
        return True


@pytest.fixture
def receiver_factory() -> Iterator[Callable[[Clock], WebhookReceiver]]:
    """Start receivers that verify signatures against a given clock; stopped afterwards."""
    started: list[WebhookReceiver] = []

    def start(clock: Clock) -> WebhookReceiver:
        served = WebhookReceiver(clock)
        served.start()
        started.append(served)
        return served

    yield start
    for served in started:
        served.stop()


@pytest.fixture
def receiver(
    receiver_factory: Callable[[Clock], WebhookReceiver], gcc_clock: ManualClock
) -> WebhookReceiver:
    """Customer endpoints that verify signatures against the test's clock."""
    return receiver_factory(gcc_clock)


@pytest.fixture(scope="session")
async def delivery_runtime(
    gcc_settings: Settings, gcc_clock_session: ManualClock, task_recorder_session: Any
) -> AsyncIterator[Runtime]:
    async with open_runtime(
        gcc_settings, clock=gcc_clock_session, send_task=task_recorder_session
    ) as built:
        yield built


@pytest.fixture
def runtime(
    delivery_runtime: Runtime,
    gcc_settings: Settings,
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
    task_recorder: Any,
) -> Runtime:
    """A runtime like a worker's, on the test's clock, recording the tasks it sends.

    Tests may replace its settings; each test starts from the session's.
    """
    delivery_runtime.settings = gcc_settings
    return delivery_runtime


ReleasePublisher = Callable[..., Awaitable[Release]]


@pytest.fixture
def published_release(gcc_sessions: SessionFactory, gcc_clock: ManualClock) -> ReleasePublisher:
    """Insert a published release, its artifacts, and a due target per organization."""

    async def publish(
        organization_ids: Sequence[uuid.UUID],
        *,
        version: str = "2.1.0",
        status: ReleaseStatus = ReleaseStatus.PUBLISHED,
        compose: bool = True,
        published_at: datetime | None = None,
    ) -> Release:
        now = published_at or gcc_clock.now()
        release = Release(
            version=version,
            status=str(status),
            image_tags={"backend": "sha-abc123", "media": "sha-def456"},
            is_forced=True,
            release_notes="Faster fan-out",
            new_non_essential_envs=[{"key": "NEW_FEATURE", "value": "false"}],
            created_by="ci",
            created_at=now,
            updated_at=now,
            published_at=now,
        )
        artifacts = [
            Artifact(
                version=version,
                type=str(ArtifactType.HELM),
                bucket_path=f"charts/helm/wrktalk-{version}.tgz",
                sha256=CHART_SHA256,
                size_bytes=1024,
                created_at=now,
            )
        ]
        if compose:
            artifacts.append(
                Artifact(
                    version=version,
                    type=str(ArtifactType.COMPOSE),
                    bucket_path=f"charts/compose/wrktalk-{version}-compose.tar.gz",
                    sha256=COMPOSE_SHA256,
                    size_bytes=512,
                    created_at=now,
                )
            )
        async with gcc_sessions() as session:
            session.add(release)
            session.add_all(artifacts)
            await session.flush()
            session.add_all(
                DeploymentTarget(
                    release_id=release.id,
                    organization_id=organization_id,
                    webhook_id=f"msg_{uuid.uuid4().hex}",
                    status=str(DeploymentStatus.PENDING),
                    next_attempt_at=now,
                    wave_notified_at=now,
                    created_at=now,
                    updated_at=now,
                )
                for organization_id in organization_ids
            )
            await session.commit()
        return release

    return publish


async def targets_of(sessions: SessionFactory, release_id: uuid.UUID) -> list[DeploymentTarget]:
    """The release's targets as stored now."""
    async with sessions() as session:
        result = await session.exec(
            select(DeploymentTarget).where(DeploymentTarget.release_id == release_id)
        )
        return list(result.all())


@pytest.fixture
def read_targets(gcc_sessions: SessionFactory) -> Callable[[uuid.UUID], Awaitable[Any]]:
    """Read a release's targets as stored now."""
    return lambda release_id: targets_of(gcc_sessions, release_id)
