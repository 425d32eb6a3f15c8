"""Customer backend fixtures: its own database and bucket, served on loopback, with the real
GCC (from ``gcc_fixtures``) as its upstream and the same clock."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

import customer_backend.models  # noqa: F401 - every table on the metadata
from contracts import DeploymentType
from customer_backend.admins.models import Admin
from customer_backend.admins.service import create_admin
from customer_backend.app import create_app
from customer_backend.migrations_runner import upgrade_to_head
from customer_backend.settings import Settings, get_settings
from customer_backend.table_base import metadata
from gcc.organizations.models import Organization
from gcc.security import hash_api_key
from servicekit.db import SessionFactory, create_engine, create_session_factory
from testsupport.gcc_fixtures import TaskRecorder, drain_broker
from testsupport.manifest_keys import TEST_PUBLIC_KEY
from timekeeping import ManualClock
from wrktalk_testing.s3 import create_bucket
from wrktalk_testing.servers import ServedApp
from wrktalk_testing.smtp import SmtpSink

BACKEND_ORGANIZATION = "acme"
BACKEND_GCC_API_KEY = "gcc_backend-under-test-api-key"
BACKEND_WEBHOOK_SECRET = "whsec_" + "YmFja2VuZC11bmRlci10ZXN0LXdlYmhvb2stc2VjcmV0"
AGENT_SECRET = "agent-secret-for-tests"
APP_CONFIG_TOKEN = "app-config-token-for-tests"


@pytest.fixture(scope="session")
def backend_settings(
    create_postgres_database: Callable[[str], str],
    redis_url: str,
    s3_endpoint: str,
    smtp_server: SmtpSink,
    gcc_server: ServedApp,
    tmp_path_factory: pytest.TempPathFactory,
) -> Settings:
    """Settings of the backend under test: migrated database, bucket, GCC on loopback."""
    database_url = create_postgres_database("backend")
    upgrade_to_head(database_url)
    bucket = f"customer-{uuid.uuid4().hex[:12]}"
    create_bucket(s3_endpoint, bucket)
    return Settings(
        organization_name=BACKEND_ORGANIZATION,
        deployment_type=DeploymentType.KUBERNETES,
        database_url=database_url,
        database_pool_size=5,
        redis_url=redis_url,
        gcc_endpoint=gcc_server.base_url,
        gcc_api_key=BACKEND_GCC_API_KEY,  # type: ignore[arg-type]
        webhook_secret=BACKEND_WEBHOOK_SECRET,  # type: ignore[arg-type]
        agent_secret=AGENT_SECRET,  # type: ignore[arg-type]
        app_config_token=APP_CONFIG_TOKEN,  # type: ignore[arg-type]
        bucket_provider="s3",
        bucket_name=bucket,
        bucket_endpoint=s3_endpoint,
        staging_directory=str(tmp_path_factory.mktemp("staging")),
        smtp_host=smtp_server.host,
        smtp_port=smtp_server.port,
        manifest_trusted_keys=[TEST_PUBLIC_KEY],
        log_json=False,
    )


@pytest.fixture(scope="session")
def backend_task_recorder_session() -> TaskRecorder:
    return TaskRecorder()


@pytest.fixture
def backend_task_recorder(
    backend_task_recorder_session: TaskRecorder,
) -> Iterator[TaskRecorder]:
    """The Celery tasks the served backend sent during this test."""
    backend_task_recorder_session.sent.clear()
    backend_task_recorder_session.forward_to = None
    yield backend_task_recorder_session
    backend_task_recorder_session.forward_to = None


@pytest.fixture(scope="session")
def backend_server(
    backend_settings: Settings,
    gcc_clock_session: ManualClock,
    backend_task_recorder_session: TaskRecorder,
) -> Iterator[ServedApp]:
    """The customer backend served by uvicorn on loopback, reading the same clock as GCC."""
    served = ServedApp(
        create_app(
            backend_settings, clock=gcc_clock_session, send_task=backend_task_recorder_session
        )
    )
    served.start()
    yield served
    served.stop()


@pytest.fixture(scope="session")
async def backend_engine(backend_settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(backend_settings.database_url, pool_size=5)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
def backend_session_factory(backend_engine: AsyncEngine) -> SessionFactory:
    return create_session_factory(backend_engine)


@pytest.fixture
async def backend_sessions(
    backend_engine: AsyncEngine, backend_session_factory: SessionFactory
) -> SessionFactory:
    """Sessions on the backend database, emptied for this test."""
    names = ", ".join(f'"{table.name}"' for table in metadata.sorted_tables)
    async with backend_engine.begin() as connection:
        await connection.execute(text(f"TRUNCATE {names} CASCADE"))
    return backend_session_factory


@pytest.fixture
async def gcc_organization(
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
    backend_server: ServedApp,
    backend_settings: Settings,
) -> Organization:
    """This backend's organization at GCC, with the API key and secret the backend holds."""
    now = gcc_clock.now()
    organization = Organization(
        name=BACKEND_ORGANIZATION,
        deployment_type=str(backend_settings.deployment_type),
        webhook_endpoint=f"{backend_server.base_url}/api/deployment/webhook",
        webhook_secret=BACKEND_WEBHOOK_SECRET,
        api_key_hash=hash_api_key(BACKEND_GCC_API_KEY),
        current_version="2.0.0",
        license_expires_at=now + timedelta(days=365),
        created_at=now,
        updated_at=now,
    )
    async with gcc_sessions() as session:
        session.add(organization)
        await session.commit()
    return organization


@pytest.fixture
async def backend_client(
    backend_server: ServedApp,
    backend_sessions: SessionFactory,
    gcc_organization: Organization,
) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client for the served backend (empty tables; GCC knows the organization)."""
    async with httpx.AsyncClient(base_url=backend_server.base_url, timeout=30) as client:
        yield client


@pytest.fixture
def agent_headers() -> dict[str, str]:
    return {"X-Agent-Secret": AGENT_SECRET}


@dataclass
class CreatedAdmin:
    """An admin with the Control Tower token shown only once."""

    admin: Admin
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


AdminFactory = Callable[..., Awaitable[CreatedAdmin]]


@pytest.fixture
def admin_factory(backend_sessions: SessionFactory, gcc_clock: ManualClock) -> AdminFactory:
    """Create admins through the admin service."""

    async def create(
        email: str | None = None, *, name: str = "Ada Admin", **fields: Any
    ) -> CreatedAdmin:
        async with backend_sessions() as session:
            admin, token = await create_admin(
                session,
                clock=gcc_clock,
                email=email or f"admin-{uuid.uuid4().hex[:6]}@acme.example",
                name=name,
                **fields,
            )
            await session.commit()
        return CreatedAdmin(admin, token)

    return create


def _revealed(value: Any) -> str:
    return value.get_secret_value() if isinstance(value, SecretStr) else str(value)


@pytest.fixture
def backend_command_environment(
    backend_settings: Settings, backend_sessions: SessionFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Settings]:
    """Point ``customer-backend`` commands (which read WRKTALK_* variables) at the backend
    under test: every one of its settings as a variable, the tables emptied for each test, the
    broker's queues emptied before and after."""
    for name in type(backend_settings).model_fields:
        value = getattr(backend_settings, name)
        if value is None:
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        elif isinstance(value, list):  # the webhook secrets, comma-separated
            value = ",".join(_revealed(item) for item in value)
        elif isinstance(value, dict):
            value = json.dumps(value, default=_revealed)
        monkeypatch.setenv(f"WRKTALK_{name.upper()}", str(value))
    get_settings.cache_clear()
    drain_broker(backend_settings.redis_url)
    yield get_settings()
    get_settings.cache_clear()
    drain_broker(backend_settings.redis_url)
