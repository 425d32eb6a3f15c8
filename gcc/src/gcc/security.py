"""Organization API keys: generated with a recognisable prefix, stored as a hash."""

from __future__ import annotations

from servicekit.auth import generate_token, hash_token

API_KEY_PREFIX = "gcc_"


def generate_api_key() -> str:
    """A new organization API key (shown once; only its hash is stored)."""
    return generate_token(API_KEY_PREFIX)


def hash_api_key(api_key: str) -> str:
    """The stored form of an API key."""
    return hash_token(api_key)
