"""Random tokens and their hashes: a token is shown once, only its hash is stored."""

from __future__ import annotations

import hashlib
import hmac
import secrets


def new_token(prefix: str = "") -> str:
    """A new random, URL-safe token (256 bits) with an optional recognisable prefix."""
    return prefix + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """SHA-256 of a token, in hex.

    Tokens are long random strings, so a fast hash is enough (nothing to brute-force) and a
    lookup stays a single indexed equality.
    """
    return hashlib.sha256(token.encode()).hexdigest()


def same_secret(presented: str, expected: str) -> bool:
    """Constant-time comparison of two secrets."""
    return hmac.compare_digest(presented.encode(), expected.encode())
