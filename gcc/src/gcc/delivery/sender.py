"""Sending signed webhooks over HTTP, many at once, through one pooled session.

Each request is signed right before it leaves, so its ``webhook-timestamp`` is the time of that
attempt, over exactly the body bytes it carries; the ``webhook-id`` is the target's own and the
same on every retry, so a customer that already handled it can recognise a repeat.
"""

from __future__ import annotations

import asyncio
import enum
import functools
import ssl
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

import aiohttp

from signing import build_headers
from timekeeping import Clock

USER_AGENT = "wrktalk-gcc-webhooks/1"
ERROR_BODY_CHARACTERS = 500
"""How much of a failed response's body is kept as the target's error."""
_MAX_BODY_BYTES = 64 * 1024
"""A response body is read up to this size; customers answer with a few bytes."""
KEEPALIVE_SECONDS = 4.0
"""How long an idle connection to a customer is kept for the next webhook."""


class Outcome(enum.StrEnum):
    """How one attempt ended."""

    ACKNOWLEDGED = "acknowledged"
    """A 2xx answer."""
    REJECTED = "rejected"
    """401: the endpoint does not accept GCC's signature; not retried."""
    REFUSED = "refused"
    """Not sent at all: the organization cannot be sent to as configured (an unusable
    secret); not retried."""
    FAILED = "failed"
    """Another status, a timeout or a connection error: retried."""


@dataclass(frozen=True)
class WebhookRequest:
    """One webhook to send: where, with which id, which body bytes and which secrets."""

    target_id: uuid.UUID
    webhook_id: str
    endpoint: str
    body: bytes
    secrets: Sequence[str]


@dataclass(frozen=True)
class AttemptResult:
    """What happened to one :class:`WebhookRequest`."""

    target_id: uuid.UUID
    outcome: Outcome
    finished_at: datetime
    duration_ms: float
    status_code: int | None = None
    error: str | None = None


def endpoint_problem(endpoint: str, *, allow_http: bool) -> str | None:
    """Why a webhook cannot be sent to ``endpoint``, or None when it can."""
    try:
        parts = urlsplit(endpoint)
    except ValueError:
        return "the webhook endpoint is not a valid URL"
    if not parts.hostname:
        return "the webhook endpoint is not an absolute URL"
    if parts.scheme == "https":
        return None
    if parts.scheme == "http":
        if allow_http:
            return None
        return (
            "the webhook endpoint uses plain http; webhooks go to https endpoints only "
            "(GCC_ALLOW_HTTP_WEBHOOKS permits http on test and local stacks)"
        )
    return f"the webhook endpoint has the unsupported scheme {parts.scheme!r}"


def endpoint_host(endpoint: str) -> str | None:
    """The host and port of an endpoint, for logs (never its path, query or credentials)."""
    try:
        parts = urlsplit(endpoint)
        return f"{parts.hostname}:{parts.port}" if parts.port else parts.hostname
    except ValueError:
        return None


@functools.cache
def _tls_context() -> ssl.SSLContext:
    # Loading the CA bundle takes tens of milliseconds; one context serves every session the
    # process opens.
    return ssl.create_default_context()


def open_client(*, concurrency: int, timeout_seconds: float) -> aiohttp.ClientSession:
    """The HTTP session of one delivery batch: a keep-alive pool as wide as the concurrency.

    aiohttp rather than httpx: on the benchmark machine httpx spends 1.3 to 5 ms of CPU per
    request (its pool inspects every connection, with a system call each, on every request),
    aiohttp about 0.3 ms, and the fan-out target is a thousand deliveries per second.
    """
    connector = aiohttp.TCPConnector(
        limit=concurrency,
        limit_per_host=0,
        ssl=_tls_context(),
        # Closed by us before typical server idle timeouts (5 s and up), so a request is not
        # sent on a connection the customer is closing at that moment.
        keepalive_timeout=KEEPALIVE_SECONDS,
    )
    return aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=timeout_seconds),
        headers={"user-agent": USER_AGENT},
        # No cookies from one customer's answer go along to the next request; no proxy or
        # netrc lookups from the environment (each costs a thread hop per request).
        cookie_jar=aiohttp.DummyCookieJar(),
        trust_env=False,
    )


async def send_all(
    requests: Sequence[WebhookRequest],
    *,
    client: aiohttp.ClientSession,
    clock: Clock,
    concurrency: int,
    timeout_seconds: float,
) -> list[AttemptResult]:
    """Send every request, ``concurrency`` at a time; one result per request, in any order.

    Requests are taken round-robin across origins (scheme, host and port): a host serving many
    organizations gets a steady share of the concurrency rather than all of it at once, and
    each origin's few keep-alive connections are reused instead of a new one per request.
    """
    pending = iter(interleave_by_origin(requests))
    results: list[AttemptResult] = []

    async def sender() -> None:
        # The senders share one iterator; taking the next request never awaits, so no two
        # senders take the same one.
        for request in pending:
            results.append(
                await send_one(request, client=client, clock=clock, timeout_seconds=timeout_seconds)
            )

    await asyncio.gather(*(sender() for _ in range(min(concurrency, len(requests)))))
    return results


def interleave_by_origin(requests: Sequence[WebhookRequest]) -> list[WebhookRequest]:
    """The requests reordered to take one per origin in turn."""
    by_origin: dict[str, list[WebhookRequest]] = {}
    for request in requests:
        by_origin.setdefault(_origin(request.endpoint), []).append(request)
    queues = list(by_origin.values())
    return [
        queue[index]
        for index in range(max(map(len, queues), default=0))
        for queue in queues
        if index < len(queue)
    ]


def _origin(endpoint: str) -> str:
    try:
        parts = urlsplit(endpoint)
        return f"{parts.scheme}://{parts.netloc}"
    except ValueError:
        return endpoint


async def send_one(
    request: WebhookRequest,
    *,
    client: aiohttp.ClientSession,
    clock: Clock,
    timeout_seconds: float,
) -> AttemptResult:
    """Sign and POST one webhook; never raises for what the network or the receiver does.

    Nothing about one organization (its stored secret, its endpoint, its answer) may fail the
    batch it is in: that would send the batch's other webhooks again on every retry.
    """
    started = time.perf_counter()
    try:
        headers = build_headers(request.secrets, request.webhook_id, clock.now(), request.body)
    except ValueError as exc:
        error = f"the organization's webhook secret is unusable: {exc}"
        return _result(request, clock, started, Outcome.REFUSED, None, error)
    headers["content-type"] = "application/json"
    status_code: int | None = None
    try:
        async with client.post(
            request.endpoint, data=request.body, headers=headers, allow_redirects=False
        ) as response:
            status_code = response.status
            body = await _read_limited(response)
    except TimeoutError:
        error = f"no answer within {timeout_seconds:g} s"
        return _result(request, clock, started, Outcome.FAILED, status_code, error)
    except aiohttp.ClientError as exc:
        error = f"connection error: {type(exc).__name__}: {exc}"[:ERROR_BODY_CHARACTERS]
        return _result(request, clock, started, Outcome.FAILED, status_code, error)
    except Exception as exc:  # an endpoint aiohttp cannot handle (an unencodable host, ...)
        error = f"request failed: {type(exc).__name__}: {exc}"[:ERROR_BODY_CHARACTERS]
        return _result(request, clock, started, Outcome.FAILED, status_code, error)
    if 200 <= status_code < 300:
        return _result(request, clock, started, Outcome.ACKNOWLEDGED, status_code, None)
    text = body.decode("utf-8", errors="replace")[:ERROR_BODY_CHARACTERS]
    outcome = Outcome.REJECTED if status_code == 401 else Outcome.FAILED
    return _result(request, clock, started, outcome, status_code, f"HTTP {status_code}: {text}")


async def _read_limited(response: aiohttp.ClientResponse) -> bytes:
    # Reading to the end lets the connection go back to the pool; a body past the limit is
    # cut short, and the connection is closed instead.
    received = bytearray()
    while len(received) < _MAX_BODY_BYTES:
        chunk = await response.content.read(_MAX_BODY_BYTES)
        if not chunk:
            break
        received += chunk
    return bytes(received[:_MAX_BODY_BYTES])


def _result(
    request: WebhookRequest,
    clock: Clock,
    started: float,
    outcome: Outcome,
    status_code: int | None,
    error: str | None,
) -> AttemptResult:
    return AttemptResult(
        target_id=request.target_id,
        outcome=outcome,
        finished_at=clock.now(),
        duration_ms=round((time.perf_counter() - started) * 1000, 1),
        status_code=status_code,
        error=error,
    )
