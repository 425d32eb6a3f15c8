"""Claim a Redis database number that no other running test session uses."""

from __future__ import annotations

import os
from dataclasses import dataclass

import redis

LOCK_PREFIX = "wrktalk-test:db-claim:"
CLAIM_TTL_SECONDS = 4 * 3600


@dataclass(frozen=True)
class RedisClaim:
    """A claimed database number and its URL."""

    base_url: str
    db: int

    @property
    def url(self) -> str:
        """The Redis URL that selects the claimed database."""
        return f"{self.base_url.rstrip('/')}/{self.db}"


def claim_redis_db(base_url: str) -> RedisClaim:
    """Claim one of databases 1-15 with a lock key in database 0, then flush it."""
    admin = redis.Redis.from_url(f"{base_url.rstrip('/')}/0")
    try:
        databases = int(admin.config_get("databases").get("databases") or 16)
        for db in range(1, databases):
            if admin.set(f"{LOCK_PREFIX}{db}", str(os.getpid()), nx=True, ex=CLAIM_TTL_SECONDS):
                claim = RedisClaim(base_url, db)
                redis.Redis.from_url(claim.url).flushdb()
                return claim
    finally:
        admin.close()
    raise RuntimeError("every Redis database number is claimed by another test session")


def release_redis_db(claim: RedisClaim) -> None:
    """Flush the claimed database and give its number back."""
    client = redis.Redis.from_url(claim.url)
    try:
        client.flushdb()
    finally:
        client.close()
    admin = redis.Redis.from_url(f"{claim.base_url.rstrip('/')}/0")
    try:
        admin.delete(f"{LOCK_PREFIX}{claim.db}")
    finally:
        admin.close()
