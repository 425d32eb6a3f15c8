"""Organization API keys and the bearer-token helpers."""

from __future__ import annotations

from servicekit.auth import bearer_token, generate_token, hash_token, tokens_match

API_KEY_PREFIX = "gcc_"

__all__ = ["API_KEY_PREFIX", "bearer_token", "generate_api_key", "hash_api_key", "tokens_match"]


def generate_api_key() -> str:
    """A new organization API key (shown once; only its hash is stored)."""
    return generate_token(API_KEY_PREFIX)


def hash_api_key(api_key: str) -> str:
    """The stored form of an API key."""
    return hash_token(api_key)
