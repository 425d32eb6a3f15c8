"""Bearer tokens and hashed keys."""

from __future__ import annotations

import hashlib
import hmac
import secrets


def generate_token(prefix: str) -> str:
    """A new random token with a recognisable prefix (shown once; store only its hash)."""
    return prefix + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """SHA-256 of a token: tokens are long random strings, so a fast hash is enough and a
    lookup stays a single indexed equality."""
    return hashlib.sha256(token.encode()).hexdigest()


def tokens_match(presented: str, expected: str) -> bool:
    """Constant-time comparison of two tokens."""
    return hmac.compare_digest(presented.encode(), expected.encode())


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or None."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()
