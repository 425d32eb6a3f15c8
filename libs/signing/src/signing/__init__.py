"""Standard Webhooks signing and verification (https://www.standardwebhooks.com).

Senders call :func:`build_headers` (or :func:`sign`) and send the three ``webhook-*`` headers
with the exact body bytes; receivers call :func:`verify` with the headers and the raw body
before parsing it.
"""

from signing.webhooks import (
    DEFAULT_TOLERANCE_SECONDS,
    HEADER_ID,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    MINIMUM_SECRET_BYTES,
    SECRET_PREFIX,
    SIGNATURE_VERSION,
    VerificationFailure,
    WebhookVerificationError,
    build_headers,
    decode_secret,
    generate_secret,
    sign,
    sign_with_all,
    verify,
)

__all__ = [
    "DEFAULT_TOLERANCE_SECONDS",
    "HEADER_ID",
    "HEADER_SIGNATURE",
    "HEADER_TIMESTAMP",
    "MINIMUM_SECRET_BYTES",
    "SECRET_PREFIX",
    "SIGNATURE_VERSION",
    "VerificationFailure",
    "WebhookVerificationError",
    "build_headers",
    "decode_secret",
    "generate_secret",
    "sign",
    "sign_with_all",
    "verify",
]
