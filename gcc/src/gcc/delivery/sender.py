"""Sending one signed webhook over HTTP through a pooled session, and reading its answer.

Each request is signed right before it leaves, so its ``webhook-timestamp`` is the time of that
attempt, over exactly the body bytes it carries; the ``webhook-id`` is the target's own and the
same on every retry, so a customer that already handled it can recognise a repeat.
"""

from __future__ import annotations

import enum
import functools
import ssl
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import aiohttp
from opentelemetry.context import Context

from signing import build_headers
from telemetry import (
    TRACEPARENT_HEADER,
    SpanKind,
    StatusCode,
    context_from_traceparent,
    start_span,
    traceparent_of,
)
from timekeeping import Clock

USER_AGENT = "wrktalk-gcc-webhooks/1"
ERROR_BODY_CHARACTERS = 500
"""How much of a failed response's body is kept as the target's error."""
_MAX_BODY_BYTES = 64 * 1024
"""A response body is read up to this size; customers answer with a few bytes."""
KEEPALIVE_SECONDS = 4.0
"""How long an idle connection to a customer is kept for the next webhook."""
MAX_RETRY_AFTER_SECONDS = 3600.0
"""The longest ``Retry-After`` honoured; a receiver asking for more is tried after an hour."""
_RETRY_AFTER_STATUSES = frozenset({429, 503})


class Outcome(enum.StrEnum):
    """How one attempt ended."""

    ACKNOWLEDGED = "acknowledged"
    """A 2xx answer."""
    REJECTED = "rejected"
    """401: the endpoint does not accept GCC's signature; not retried."""
    GONE = "gone"
    """410: the receiver says the endpoint is gone for good; escalated, not retried."""
    REFUSED = "refused"
    """Not sent at all: the organization cannot be sent to as configured (an unusable
    secret); not retried."""
    FAILED = "failed"
    """Another status, a timeout or a connection error: retried."""


CONTENT_TYPE = "application/json"


@dataclass(frozen=True)
class ReleaseWebhook:
    """What every target of one release is sent, prepared once for all of them."""

    body: bytes
    """The body's bytes, signed for each request."""
    payload: aiohttp.BytesPayload
    """One payload over those bytes for every request (aiohttp sends a bytes payload as often
    as asked): building one per request cost a twentieth of a delivery's CPU."""
    parent: Context | None
    """The release's publication span, which each delivery's span continues."""

    @classmethod
    def of(cls, body: bytes, *, trace_parent: str | None = None) -> ReleaseWebhook:
        """The webhook of a release whose body is ``body`` and whose publication span is
        ``trace_parent``."""
        return cls(
            body=body,
            payload=aiohttp.BytesPayload(body, content_type=CONTENT_TYPE),
            parent=context_from_traceparent(trace_parent),
        )


@dataclass(frozen=True)
class WebhookRequest:
    """One webhook to send: where, with which id, which release's body and which secrets."""

    target_id: uuid.UUID
    webhook_id: str
    endpoint: str
    webhook: ReleaseWebhook
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
    retry_after_seconds: float | None = None
    """How long the receiver asked to be left alone (``Retry-After`` on a 429 or 503)."""
    trace_parent: str | None = None
    """The attempt's ``webhook.delivery`` span, for the outcome's log line written later."""


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


def open_client(
    *, concurrency: int, timeout_seconds: float, connect_timeout_seconds: float
) -> aiohttp.ClientSession:
    """The HTTP session of one delivery pump: a keep-alive pool as wide as its concurrency.

    ``timeout_seconds`` bounds each request from its first byte sent to its answer's last byte
    read; ``connect_timeout_seconds`` bounds opening its connection. Waiting for a pooled
    connection is not counted: the pump never starts more requests than the pool holds.

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
        timeout=aiohttp.ClientTimeout(
            total=timeout_seconds, sock_connect=min(connect_timeout_seconds, timeout_seconds)
        ),
        headers={"user-agent": USER_AGENT},
        # No cookies from one customer's answer go along to the next request; no proxy or
        # netrc lookups from the environment (each costs a thread hop per request).
        cookie_jar=aiohttp.DummyCookieJar(),
        trust_env=False,
    )


def origin(endpoint: str) -> str:
    """The scheme, host and port of an endpoint: what the per-receiver cap counts by."""
    try:
        parts = urlsplit(endpoint)
        return f"{parts.scheme}://{parts.netloc}"
    except ValueError:
        return endpoint


def retry_after_seconds(value: str | None, *, now: datetime) -> float | None:
    """A ``Retry-After`` header's delay in seconds (a number or an HTTP date), capped at
    :data:`MAX_RETRY_AFTER_SECONDS`; None when absent or unreadable."""
    if not value:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - now).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)


async def send_one(
    request: WebhookRequest,
    *,
    client: aiohttp.ClientSession,
    clock: Clock,
    timeout_seconds: float,
) -> AttemptResult:
    """Sign and POST one webhook; never raises for what the network or the receiver does.

    Nothing about one organization (its stored secret, its endpoint, its answer) may fail the
    deliveries around it: that would send their webhooks again on every retry. The attempt is
    a ``webhook.delivery`` span under the release's publication, and its ``traceparent``
    header hands the trace to the customer backend.

    The span is not made the current one: nothing in the attempt logs, and its id travels in
    the header and in the result.
    """
    current = start_span(
        "webhook.delivery",
        parent=request.webhook.parent,
        kind=SpanKind.CLIENT,
        attributes={"wrktalk.webhook_id": request.webhook_id},
    )
    try:
        result = await _attempt(
            request,
            traceparent_of(current),
            client=client,
            clock=clock,
            timeout_seconds=timeout_seconds,
        )
        if current.is_recording():
            current.set_attribute("wrktalk.webhook_outcome", str(result.outcome))
            if result.status_code is not None:
                current.set_attribute("http.response.status_code", result.status_code)
            if result.outcome is not Outcome.ACKNOWLEDGED:
                current.set_status(StatusCode.ERROR, result.error)
        return result
    finally:
        current.end()


async def _attempt(
    request: WebhookRequest,
    traceparent: str | None,
    *,
    client: aiohttp.ClientSession,
    clock: Clock,
    timeout_seconds: float,
) -> AttemptResult:
    started = time.perf_counter()

    def result(
        outcome: Outcome,
        status_code: int | None,
        error: str | None,
        retry_after: float | None = None,
    ) -> AttemptResult:
        return AttemptResult(
            target_id=request.target_id,
            outcome=outcome,
            finished_at=clock.now(),
            duration_ms=round((time.perf_counter() - started) * 1000, 1),
            status_code=status_code,
            error=error,
            retry_after_seconds=retry_after,
            trace_parent=traceparent,
        )

    webhook = request.webhook
    try:
        headers = build_headers(request.secrets, request.webhook_id, clock.now(), webhook.body)
    except ValueError as exc:
        error = f"the organization's webhook secret is unusable: {exc}"
        return result(Outcome.REFUSED, None, error)
    if traceparent is not None:
        headers[TRACEPARENT_HEADER] = traceparent
    status_code: int | None = None
    retry_after: float | None = None
    try:
        async with client.post(
            request.endpoint, data=webhook.payload, headers=headers, allow_redirects=False
        ) as response:
            status_code = response.status
            if status_code in _RETRY_AFTER_STATUSES:
                retry_after = retry_after_seconds(
                    response.headers.get("retry-after"), now=clock.now()
                )
            body = await _read_limited(response)
    except TimeoutError:
        return result(Outcome.FAILED, status_code, f"no answer within {timeout_seconds:g} s")
    except aiohttp.ClientError as exc:
        error = f"connection error: {type(exc).__name__}: {exc}"[:ERROR_BODY_CHARACTERS]
        return result(Outcome.FAILED, status_code, error)
    except Exception as exc:  # an endpoint aiohttp cannot handle (an unencodable host, ...)
        error = f"request failed: {type(exc).__name__}: {exc}"[:ERROR_BODY_CHARACTERS]
        return result(Outcome.FAILED, status_code, error)
    if 200 <= status_code < 300:
        return result(Outcome.ACKNOWLEDGED, status_code, None)
    text = body.decode("utf-8", errors="replace")[:ERROR_BODY_CHARACTERS]
    outcome = _UNSUCCESSFUL.get(status_code, Outcome.FAILED)
    return result(outcome, status_code, f"HTTP {status_code}: {text}", retry_after)


_UNSUCCESSFUL = {401: Outcome.REJECTED, 410: Outcome.GONE}
"""Answers that end a target's deliveries at once; any other non-2xx is retried."""


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
