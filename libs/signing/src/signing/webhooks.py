"""Standard Webhooks signatures: sign outgoing webhooks and verify incoming ones.

The scheme (https://www.standardwebhooks.com) signs ``{webhook-id}.{webhook-timestamp}.{body}``
with HMAC-SHA256 and sends the result as ``webhook-signature: v1,<base64>``. Binding the message
id and the timestamp into the signature is what lets a receiver refuse replays: a captured
request stops verifying once its timestamp leaves the tolerance window.

Secrets are strings of the form ``whsec_<base64 key>``. As in the reference libraries, a string
without the ``whsec_`` prefix is base64-decoded too, so ``"whsec_" + key`` and ``key`` name the
same secret. Raw key bytes may be passed as :class:`bytes` and are used unchanged.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import hmac
import re
import secrets as secrets_module
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

SECRET_PREFIX = "whsec_"  # noqa: S105 (a format marker, not a credential)
SIGNATURE_VERSION = "v1"
HEADER_ID = "webhook-id"
HEADER_TIMESTAMP = "webhook-timestamp"
HEADER_SIGNATURE = "webhook-signature"
DEFAULT_TOLERANCE_SECONDS = 300
MINIMUM_SECRET_BYTES = 24

_SIGNATURE_BYTES = hashlib.sha256().digest_size
# An integer Unix timestamp in seconds; twenty digits is far beyond any real date and keeps a
# hostile header from turning into a very large integer.
_TIMESTAMP_PATTERN = re.compile(r"[0-9]{1,20}")

Secret = str | bytes
SecretOrSecrets = Secret | Sequence[Secret]
Timestamp = int | datetime
Body = bytes | str


class VerificationFailure(enum.StrEnum):
    """Why a webhook failed verification; each member equals its machine code string."""

    MISSING_HEADER = "missing_header"
    DUPLICATE_HEADER = "duplicate_header"
    INVALID_TIMESTAMP = "invalid_timestamp"
    TIMESTAMP_TOO_OLD = "timestamp_too_old"
    TIMESTAMP_TOO_NEW = "timestamp_too_new"
    MALFORMED_SIGNATURE = "malformed_signature"
    NO_MATCHING_SIGNATURE = "no_matching_signature"


class WebhookVerificationError(Exception):
    """A webhook that must be rejected.

    ``reason`` is a short machine code (a :class:`VerificationFailure`, which compares equal to
    strings such as ``"no_matching_signature"``); ``str(error)`` is a sentence for humans;
    ``header`` names the header at fault when one is (``webhook-timestamp``, ...).
    """

    def __init__(
        self, reason: VerificationFailure, message: str, *, header: str | None = None
    ) -> None:
        """Create the error from its machine code, a human-readable message and the header."""
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.header = header

    def __repr__(self) -> str:
        return f"WebhookVerificationError(reason={self.reason.value!r}, message={self.message!r})"


def decode_secret(secret: Secret) -> bytes:
    """Return the raw HMAC key of a secret.

    A string is base64-decoded after dropping an optional ``whsec_`` prefix (missing padding is
    tolerated, as in the reference libraries); bytes are taken as the key itself. Raises
    :class:`ValueError` when the string is not valid base64 or the key is empty.
    """
    if isinstance(secret, bytes):
        key = secret
    elif isinstance(secret, str):
        encoded = secret.removeprefix(SECRET_PREFIX)
        padded = encoded + "=" * (-len(encoded) % 4)
        try:
            key = base64.b64decode(padded, validate=True)
        except (binascii.Error, ValueError) as error:
            raise ValueError("webhook secret is not valid base64") from error
    else:
        raise TypeError(f"webhook secret must be str or bytes, not {type(secret).__name__}")
    if not key:
        raise ValueError("webhook secret may not be empty")
    return key


def sign(secret: Secret, msg_id: str, timestamp: Timestamp, body: Body) -> str:
    """Return the ``webhook-signature`` header value (``v1,<base64>``) for one secret.

    ``timestamp`` is a Unix time in whole seconds or a datetime (a naive datetime is taken as
    UTC; fractions of a second are dropped). ``body`` is the exact request body; a string is
    encoded as UTF-8.
    """
    digest = _digest(decode_secret(secret), msg_id, str(_unix_seconds(timestamp)), _as_bytes(body))
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode('ascii')}"


def sign_with_all(secrets: Sequence[Secret], msg_id: str, timestamp: Timestamp, body: Body) -> str:
    """Return a ``webhook-signature`` header value carrying one signature per secret.

    During key rotation the sender signs with the old and the new secret, so receivers that
    still hold either one accept the message. Raises :class:`ValueError` without secrets.
    """
    keys = _secret_list(secrets)
    return " ".join(sign(key, msg_id, timestamp, body) for key in keys)


def build_headers(
    secrets: SecretOrSecrets, msg_id: str, timestamp: Timestamp, body: Body
) -> dict[str, str]:
    """Return the three Standard Webhooks headers for a message.

    ``secrets`` is one secret or several (key rotation); the result holds ``webhook-id``,
    ``webhook-timestamp`` and ``webhook-signature``.
    """
    unix_seconds = _unix_seconds(timestamp)
    return {
        HEADER_ID: msg_id,
        HEADER_TIMESTAMP: str(unix_seconds),
        HEADER_SIGNATURE: sign_with_all(_secret_list(secrets), msg_id, unix_seconds, body),
    }


def verify(
    secrets: SecretOrSecrets,
    headers: Mapping[str, str],
    body: Body,
    *,
    now: Timestamp | None = None,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
) -> str:
    """Check an incoming webhook; return its ``webhook-id`` when it is authentic and fresh.

    ``secrets`` is the receiver's secret, or several during key rotation: the message passes
    when any ``v1`` signature in the header matches any secret. Header names are matched
    case-insensitively, over every item ``headers.items()`` yields, so that a multi-valued
    mapping such as Starlette's ``Headers`` is read whole: a message carrying any of the three
    headers twice is refused, since the copy that was verified and the copy a caller would
    then read could differ. Use the returned id rather than reading it again.

    The timestamp must be an integer no more than ``tolerance`` seconds before or after
    ``now`` (default: the current time). Signature entries of other versions (``v1a``,
    ``v2``) are skipped.

    Raises :class:`WebhookVerificationError` with the reason ``missing_header``,
    ``duplicate_header``, ``invalid_timestamp``, ``timestamp_too_old``, ``timestamp_too_new``,
    ``malformed_signature`` or ``no_matching_signature``. Signatures are compared in
    constant time.
    """
    if tolerance < 0:
        raise ValueError("tolerance must not be negative")
    keys = [decode_secret(secret) for secret in _secret_list(secrets)]
    msg_id, timestamp_text, signature_header = _required_headers(headers)

    current = int(time.time()) if now is None else _unix_seconds(now)
    _check_timestamp(_parse_timestamp(timestamp_text), current, tolerance)

    candidates = _parse_signature_header(signature_header)
    content = _as_bytes(body)
    # The timestamp is signed exactly as it was sent, so the signature covers every byte of it.
    expected = [_digest(key, msg_id, timestamp_text, content) for key in keys]
    matched = False
    for candidate in candidates:
        for digest in expected:
            # No early exit: the time taken does not depend on which entry matched.
            matched |= hmac.compare_digest(candidate, digest)
    if not matched:
        raise WebhookVerificationError(
            VerificationFailure.NO_MATCHING_SIGNATURE,
            "no webhook signature matches any configured secret",
            header=HEADER_SIGNATURE,
        )
    return msg_id


def generate_secret(nbytes: int = 32) -> str:
    """Return a new random secret ``whsec_<base64 key>`` with a key of ``nbytes`` bytes.

    Raises :class:`ValueError` when ``nbytes`` is below 24.
    """
    if nbytes < MINIMUM_SECRET_BYTES:
        raise ValueError(f"a webhook secret needs at least {MINIMUM_SECRET_BYTES} random bytes")
    key = secrets_module.token_bytes(nbytes)
    return SECRET_PREFIX + base64.b64encode(key).decode("ascii")


def _digest(key: bytes, msg_id: str, timestamp_text: str, body: bytes) -> bytes:
    content = f"{msg_id}.{timestamp_text}.".encode() + body
    return hmac.new(key, content, hashlib.sha256).digest()


def _as_bytes(body: Body) -> bytes:
    return body.encode() if isinstance(body, str) else bytes(body)


def _unix_seconds(timestamp: Timestamp) -> int:
    if isinstance(timestamp, datetime):
        if timestamp.tzinfo is None:
            timestamp = timestamp.replace(tzinfo=UTC)
        return int(timestamp.timestamp() // 1)
    if isinstance(timestamp, bool) or not isinstance(timestamp, int):
        raise TypeError("timestamp must be an int of Unix seconds or a datetime")
    return timestamp


def _secret_list(secrets: SecretOrSecrets) -> list[Secret]:
    keys: list[Secret] = [secrets] if isinstance(secrets, str | bytes) else list(secrets)
    if not keys:
        raise ValueError("at least one webhook secret is required")
    return keys


def _required_headers(headers: Mapping[str, str]) -> tuple[str, str, str]:
    wanted = (HEADER_ID, HEADER_TIMESTAMP, HEADER_SIGNATURE)
    found: dict[str, str] = {}
    for name, value in headers.items():
        lowered = name.lower()
        if lowered not in wanted:
            continue
        if lowered in found:
            raise WebhookVerificationError(
                VerificationFailure.DUPLICATE_HEADER,
                f"the {lowered} header appears more than once",
                header=lowered,
            )
        found[lowered] = value
    for name in wanted:
        if not found.get(name):
            raise WebhookVerificationError(
                VerificationFailure.MISSING_HEADER, f"missing {name} header", header=name
            )
    return found[HEADER_ID], found[HEADER_TIMESTAMP], found[HEADER_SIGNATURE]


def _check_timestamp(timestamp: int, current: int, tolerance: int) -> None:
    if current - timestamp > tolerance:
        raise WebhookVerificationError(
            VerificationFailure.TIMESTAMP_TOO_OLD,
            f"webhook timestamp is {current - timestamp} seconds old (tolerance {tolerance})",
            header=HEADER_TIMESTAMP,
        )
    if timestamp - current > tolerance:
        raise WebhookVerificationError(
            VerificationFailure.TIMESTAMP_TOO_NEW,
            f"webhook timestamp is {timestamp - current} seconds ahead (tolerance {tolerance})",
            header=HEADER_TIMESTAMP,
        )


def _parse_timestamp(text: str) -> int:
    if not _TIMESTAMP_PATTERN.fullmatch(text):
        raise WebhookVerificationError(
            VerificationFailure.INVALID_TIMESTAMP,
            f"{HEADER_TIMESTAMP} header is not an integer number of seconds",
            header=HEADER_TIMESTAMP,
        )
    return int(text)


def _parse_signature_header(header: str) -> list[bytes]:
    """Return the ``v1`` digests of a signature header.

    An entry is well-formed when it reads ``<version>,<signature>``; a ``v1`` entry must also
    hold the canonical, padded base64 of a 32-byte digest. Entries of other versions are
    well-formed but skipped; a header without any well-formed entry is malformed.
    """
    digests: list[bytes] = []
    has_well_formed_entry = False
    for entry in header.split():
        version, separator, encoded = entry.partition(",")
        if not (version and separator and encoded):
            continue
        if version != SIGNATURE_VERSION:
            has_well_formed_entry = True
            continue
        try:
            digest = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            continue
        # Only the canonical encoding counts, so each digest has exactly one spelling.
        if len(digest) != _SIGNATURE_BYTES or base64.b64encode(digest).decode() != encoded:
            continue
        has_well_formed_entry = True
        digests.append(digest)
    if not has_well_formed_entry:
        raise WebhookVerificationError(
            VerificationFailure.MALFORMED_SIGNATURE,
            f"{HEADER_SIGNATURE} header holds no well-formed signature",
            header=HEADER_SIGNATURE,
        )
    return digests
