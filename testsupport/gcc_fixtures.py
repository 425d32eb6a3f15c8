"""GCC fixtures: a migrated database, a bucket, and the app served on loopback.

Registered for every test by the root conftest, so the customer backend tests can serve the
real GCC as their upstream.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

import gcc.models  # noqa: F401 - every table on the metadata
from contracts import DeploymentType
from gcc.app import create_app
from gcc.migrations_runner import upgrade_to_head
from gcc.organizations.models import Organization
from gcc.security import generate_api_key, hash_api_key
from gcc.settings import Settings
from gcc.table_base import metadata as gcc_metadata
from gcc.worker import close_task_runtime, configure_celery, use_clock
from servicekit.db import SessionFactory, create_engine, create_session_factory
from signing import generate_secret
from testsupport.manifest_keys import TEST_SIGNING_KEY, write_key
from timekeeping import ManualClock
from wrktalk_testing.s3 import create_bucket
from wrktalk_testing.servers import ServedApp
from wrktalk_testing.smtp import SmtpSink

CI_TOKEN = "ci-token-for-tests"
OPERATOR_TOKEN = "operator-token-for-tests"
CLOCK_START = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@dataclass
class TaskRecorder:
    """Stands where the app sends Celery tasks: records them, and forwards them when asked."""

    sent: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = field(default_factory=list)
    forward_to: Callable[..., Any] | None = None

    def __call__(self, name: str, *args: Any, **kwargs: Any) -> None:
        self.sent.append((name, args, kwargs))
        if self.forward_to is not None:
            self.forward_to(name, *args, **kwargs)

    def names(self) -> list[str]:
        return [name for name, _, _ in self.sent]


@pytest.fixture(scope="session")
def gcc_clock_session() -> ManualClock:
    return ManualClock(CLOCK_START)


@pytest.fixture
def gcc_clock(gcc_clock_session: ManualClock) -> ManualClock:
    """The clock the served GCC reads; back at the same start for every test."""
    gcc_clock_session.set(CLOCK_START)
    return gcc_clock_session


@pytest.fixture(scope="session")
def manifest_key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test signing key as the PEM file GCC's settings name."""
    return write_key(TEST_SIGNING_KEY, tmp_path_factory.mktemp("manifest-keys"))


@pytest.fixture(scope="session")
def gcc_settings(
    create_postgres_database: Callable[[str], str],
    redis_url: str,
    s3_endpoint: str,
    smtp_server: SmtpSink,
    manifest_key_file: Path,
) -> Settings:
    """Settings of the GCC under test, with a migrated database, a bucket and the test key
    that signs manifests."""
    database_url = create_postgres_database("gcc")
    upgrade_to_head(database_url)
    bucket = f"gcc-{uuid.uuid4().hex[:12]}"
    create_bucket(s3_endpoint, bucket)
    return Settings(
        database_url=database_url,
        database_pool_size=5,
        redis_url=redis_url,
        s3_endpoint_url=s3_endpoint,
        bucket_name=bucket,
        ci_token=CI_TOKEN,  # type: ignore[arg-type]
        operator_token=OPERATOR_TOKEN,  # type: ignore[arg-type]
        allow_http_webhooks=True,
        smtp_host=smtp_server.host,
        smtp_port=smtp_server.port,
        admin_emails=["gcc-ops@example.com"],
        webhook_timeout_seconds=2.0,
        manifest_signing_keys=manifest_key_file,
        log_json=False,
        console_plain_http=True,
    )


@pytest.fixture(scope="session")
def task_recorder_session() -> TaskRecorder:
    return TaskRecorder()


@pytest.fixture
def task_recorder(task_recorder_session: TaskRecorder) -> Iterator[TaskRecorder]:
    """The tasks the served GCC sent during this test."""
    task_recorder_session.sent.clear()
    task_recorder_session.forward_to = None
    yield task_recorder_session
    task_recorder_session.forward_to = None


@pytest.fixture
def task_thread(gcc_settings: Settings, gcc_clock: ManualClock) -> Iterator[ThreadPoolExecutor]:
    """One thread that runs Celery tasks as a worker would, with the test's settings and clock."""
    configure_celery(gcc_settings)
    use_clock(gcc_clock)
    executor = ThreadPoolExecutor(max_workers=1)
    yield executor
    executor.submit(close_task_runtime).result()
    executor.shutdown()
    use_clock(None)


@pytest.fixture(scope="session")
def gcc_server(
    gcc_settings: Settings, gcc_clock_session: ManualClock, task_recorder_session: TaskRecorder
) -> Iterator[ServedApp]:
    """The GCC app served by uvicorn on a loopback port for the whole session."""
    served = ServedApp(
        create_app(gcc_settings, clock=gcc_clock_session, send_task=task_recorder_session)
    )
    served.start()
    yield served
    served.stop()


@pytest.fixture(scope="session")
async def gcc_engine(gcc_settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(gcc_settings.database_url, pool_size=5)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
def gcc_session_factory(gcc_engine: AsyncEngine) -> SessionFactory:
    return create_session_factory(gcc_engine)


@pytest.fixture
async def gcc_sessions(
    gcc_engine: AsyncEngine, gcc_session_factory: SessionFactory
) -> SessionFactory:
    """Sessions on the GCC database, emptied for this test, for arranging and checking rows."""
    names = ", ".join(f'"{table.name}"' for table in gcc_metadata.sorted_tables)
    async with gcc_engine.begin() as connection:
        await connection.execute(text(f"TRUNCATE {names} CASCADE"))
    return gcc_session_factory


@pytest.fixture
async def gcc_client(
    gcc_server: ServedApp, gcc_sessions: SessionFactory, gcc_clock: ManualClock
) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client for the served GCC (empty tables, clock at its start)."""
    async with httpx.AsyncClient(base_url=gcc_server.base_url, timeout=30) as client:
        yield client


@pytest.fixture
def ci_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {CI_TOKEN}"}


@pytest.fixture
def operator_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {OPERATOR_TOKEN}"}


@dataclass
class CreatedOrganization:
    """An organization row with the credentials that are shown only once."""

    organization: Organization
    api_key: str
    webhook_secret: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


OrganizationFactory = Callable[..., Awaitable[CreatedOrganization]]


@pytest.fixture
def organization_factory(
    gcc_sessions: SessionFactory, gcc_clock: ManualClock
) -> OrganizationFactory:
    """Insert organizations directly (the operator API has its own tests)."""

    async def create(
        name: str | None = None,
        *,
        deployment_type: DeploymentType = DeploymentType.KUBERNETES,
        webhook_endpoint: str = "http://127.0.0.1:9/api/deployment/webhook",
        current_version: str | None = "2.0.0",
        license_expires_at: datetime | None = None,
        **fields: Any,
    ) -> CreatedOrganization:
        api_key = generate_api_key()
        secret = generate_secret()
        now = gcc_clock.now()
        organization = Organization(
            name=name or f"org-{uuid.uuid4().hex[:8]}",
            deployment_type=str(deployment_type),
            webhook_endpoint=webhook_endpoint,
            webhook_secret=secret,
            api_key_hash=hash_api_key(api_key),
            current_version=current_version,
            license_expires_at=license_expires_at or now + timedelta(days=365),
            created_at=now,
            updated_at=now,
            **fields,
        )
        session: AsyncSession
        async with gcc_sessions() as session:
            session.add(organization)
            await session.commit()
        return CreatedOrganization(organization, api_key, secret)

    return create


BROKER_QUEUES = ("celery", "schedule")
"""The queues every tier's senders declare (servicekit.worker)."""


def drain_broker(redis_url: str) -> list[str]:
    """The names of the tasks waiting on the broker's queues, which are emptied: commands send
    to the session's broker, and a later test's worker must not find their messages."""
    client = redis.Redis.from_url(redis_url)
    try:
        names = []
        for queue in BROKER_QUEUES:
            for message in client.lrange(queue, 0, -1):  # type: ignore[union-attr]
                names.append(json.loads(message)["headers"]["task"])
            client.delete(queue)
        return names
    finally:
        client.close()


@pytest.fixture
def gcc_command_environment(
    gcc_settings: Settings, gcc_sessions: SessionFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """Point ``gcc`` commands (which read GCC_* variables) at the test database, emptied for
    each test, and at the test broker and bucket."""
    from gcc.settings import get_settings

    monkeypatch.setenv("GCC_DATABASE_URL", gcc_settings.database_url)
    monkeypatch.setenv("GCC_REDIS_URL", gcc_settings.redis_url)
    monkeypatch.setenv("GCC_S3_ENDPOINT_URL", gcc_settings.s3_endpoint_url or "")
    monkeypatch.setenv("GCC_BUCKET_NAME", gcc_settings.bucket_name)
    monkeypatch.setenv("GCC_ALLOW_HTTP_WEBHOOKS", "true")
    get_settings.cache_clear()
    drain_broker(gcc_settings.redis_url)
    yield
    get_settings.cache_clear()
    drain_broker(gcc_settings.redis_url)
