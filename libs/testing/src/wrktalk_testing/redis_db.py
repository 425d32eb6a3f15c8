"""Claim a Redis database number that no other running test session uses."""

from __future__ import annotations

import os
import socket
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
            if _claim(admin, f"{LOCK_PREFIX}{db}"):
                claim = RedisClaim(base_url, db)
                redis.Redis.from_url(claim.url).flushdb()
                return claim
    finally:
        admin.close()
    raise RuntimeError("every Redis database number is claimed by another test session")


def _holder() -> str:
    """Who claims: this machine and process."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _holder_is_gone(holder: str) -> bool:
    """True when the claim's process ran on this machine and no longer runs (a session that was
    killed never gave its number back); a claim from another machine is never taken over."""
    host, _, pid_text = holder.rpartition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # another user's process: it runs
        return False
    return False


def _claim(admin: redis.Redis, key: str) -> bool:
    """Take ``key`` if it is free or its holder is gone; atomic against other sessions."""
    if admin.set(key, _holder(), nx=True, ex=CLAIM_TTL_SECONDS):
        return True
    with admin.pipeline() as pipe:
        try:
            pipe.watch(key)  # type: ignore[no-untyped-call]
            holder = pipe.get(key)
            if isinstance(holder, bytes):
                holder = holder.decode()
            if holder is not None and not _holder_is_gone(str(holder)):
                return False
            pipe.multi()
            pipe.set(key, _holder(), ex=CLAIM_TTL_SECONDS)
            pipe.execute()
        except redis.WatchError:  # another session changed it first
            return False
    return True


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
