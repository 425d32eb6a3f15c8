"""Standard Webhooks signing and verification (https://www.standardwebhooks.com).

Senders call :func:`build_headers` (or :func:`sign`) and send the three ``webhook-*`` headers
with the exact body bytes; receivers call :func:`verify` with the headers and the raw body
before parsing it.

Release manifests are signed with Ed25519 (:mod:`signing.manifests`): GCC signs with
:func:`sign_manifest`, the backend and the agent check with :func:`verify_manifest`.
"""

from signing.documents import DOCUMENT_CONTEXT, sign_document, verify_document
from signing.manifests import (
    PUBLIC_KEY_PREFIX,
    ManifestRefused,
    RefusalReason,
    SigningKey,
    TrustedKeys,
    canonical_json,
    decode_header,
    encode_header,
    key_id_of,
    load_signing_keys,
    parse_public_key,
    parse_trusted_key_setting,
    sign_manifest,
    verify_manifest,
)
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
    "DOCUMENT_CONTEXT",
    "HEADER_ID",
    "HEADER_SIGNATURE",
    "HEADER_TIMESTAMP",
    "MINIMUM_SECRET_BYTES",
    "PUBLIC_KEY_PREFIX",
    "SECRET_PREFIX",
    "SIGNATURE_VERSION",
    "ManifestRefused",
    "RefusalReason",
    "SigningKey",
    "TrustedKeys",
    "VerificationFailure",
    "WebhookVerificationError",
    "build_headers",
    "canonical_json",
    "decode_header",
    "decode_secret",
    "encode_header",
    "generate_secret",
    "key_id_of",
    "load_signing_keys",
    "parse_public_key",
    "parse_trusted_key_setting",
    "sign",
    "sign_document",
    "sign_manifest",
    "sign_with_all",
    "verify",
    "verify_document",
    "verify_manifest",
]
