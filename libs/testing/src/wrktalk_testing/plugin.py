"""Pytest plugin with the fixtures every member's tests share.

Registered through the ``pytest11`` entry point, so any test in the workspace can ask for
``postgres_database``, ``redis_url``, ``s3_endpoint``, ``s3_bucket``, ``smtp_server`` or
``clock`` without importing anything. Everything here talks to real services: the
machine's PostgreSQL and Redis, moto's S3 server over HTTP, and an aiosmtpd server.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest

from timekeeping import ManualClock
from wrktalk_testing.postgres import PostgresServer
from wrktalk_testing.redis_db import claim_redis_db, release_redis_db

if TYPE_CHECKING:
    # moto and aiosmtpd are slow to import: only sessions that use them pay for it.
    from wrktalk_testing.s3 import CredentialCheckingS3Server, MotoS3Server
    from wrktalk_testing.smtp import SmtpSink

POSTGRES_ADMIN_DSN_ENV = "WRKTALK_TEST_POSTGRES_DSN"
REDIS_URL_ENV = "WRKTALK_TEST_REDIS_URL"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The machine's PostgreSQL server; databases made through it are dropped at the end."""
    server = PostgresServer(
        os.environ.get(POSTGRES_ADMIN_DSN_ENV, "postgresql://postgres@127.0.0.1:5432/postgres")
    )
    yield server
    server.drop_all()


@pytest.fixture(scope="session")
def postgres_database(postgres_server: PostgresServer) -> str:
    """A fresh database for this test session, as a ``postgresql+asyncpg://`` URL."""
    return postgres_server.create_database("session")


@pytest.fixture(scope="session")
def create_postgres_database(postgres_server: PostgresServer) -> Callable[[str], str]:
    """Make more fresh databases (one per tier in cross-tier tests); returns their URLs."""
    return postgres_server.create_database


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A Redis URL on a database number no other running test session holds, flushed."""
    base = os.environ.get(REDIS_URL_ENV, "redis://127.0.0.1:6379")
    claim = claim_redis_db(base)
    yield claim.url
    release_redis_db(claim)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[MotoS3Server]:
    """moto's S3 server on a free loopback port, reached over real HTTP."""
    from wrktalk_testing.s3 import MotoS3Server

    server = MotoS3Server()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def s3_endpoint(s3_server: MotoS3Server) -> str:
    """The S3 endpoint URL; credentials are set in the environment for it."""
    return s3_server.endpoint_url


@pytest.fixture
def s3_stoppable_server(s3_server: MotoS3Server) -> Iterator[MotoS3Server]:
    """A second moto server onto the session's buckets, for one test to stop and start again
    (a bucket out of reach, and back)."""
    from wrktalk_testing.s3 import MotoS3Server

    server = MotoS3Server()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def s3_refusing_server() -> Iterator[CredentialCheckingS3Server]:
    """An S3 server that refuses every request's credentials (``403 InvalidAccessKeyId``)."""
    from wrktalk_testing.s3 import CredentialCheckingS3Server

    server = CredentialCheckingS3Server()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def s3_bucket(s3_server: MotoS3Server) -> str:
    """A new, empty bucket for one test."""
    from wrktalk_testing.s3 import create_bucket

    name = f"test-{uuid.uuid4().hex[:16]}"
    create_bucket(s3_server.endpoint_url, name)
    return name


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[SmtpSink]:
    """An aiosmtpd server on a free loopback port that records every message."""
    from wrktalk_testing.smtp import SmtpSink

    sink = SmtpSink()
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture
def smtp_sink(smtp_server: SmtpSink) -> SmtpSink:
    """The SMTP sink, emptied for this test."""
    smtp_server.clear()
    return smtp_server


@pytest.fixture
def clock() -> ManualClock:
    """A clock that moves only when the test advances it."""
    return ManualClock(datetime(2026, 6, 1, 12, 0, tzinfo=UTC))
