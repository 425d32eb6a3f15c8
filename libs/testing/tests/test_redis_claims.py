"""A Redis database number claimed by a test session that was killed is taken over; one held by
a running session, or by another machine's, is not."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest
import redis

from wrktalk_testing.plugin import REDIS_URL_ENV
from wrktalk_testing.redis_db import LOCK_PREFIX, _claim


@pytest.fixture
def admin() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(
        f"{os.environ.get(REDIS_URL_ENV, 'redis://127.0.0.1:6379').rstrip('/')}/0"
    )
    yield client
    client.close()


@pytest.fixture
def key(admin: redis.Redis) -> Iterator[str]:
    """A claim key of the test's own, never one a session uses."""
    name = f"{LOCK_PREFIX}test-{uuid.uuid4().hex}"
    yield name
    admin.delete(name)


def _exited_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_claim_of_a_process_that_is_gone_is_taken_over(admin: redis.Redis, key: str) -> None:
    admin.set(key, f"{socket.gethostname()}:{_exited_pid()}")

    assert _claim(admin, key) is True
    assert admin.get(key) == f"{socket.gethostname()}:{os.getpid()}".encode()
    assert admin.ttl(key) > 0


def test_a_claim_of_a_running_process_or_another_machine_is_kept(
    admin: redis.Redis, key: str
) -> None:
    running = f"{socket.gethostname()}:{os.getppid()}"
    admin.set(key, running)
    assert _claim(admin, key) is False
    assert admin.get(key) == running.encode()

    elsewhere = "another-machine:1"
    admin.set(key, elsewhere)
    assert _claim(admin, key) is False
    assert admin.get(key) == elsewhere.encode()


def test_a_free_number_is_claimed(admin: redis.Redis, key: str) -> None:
    assert _claim(admin, key) is True
    assert _claim(admin, key) is False  # this process holds it now: it runs
