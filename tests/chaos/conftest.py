"""The chaos suite: real processes against a private PostgreSQL and Redis, under faults.

Run by ``uv run nox -s chaos`` only, which sets ``WRKTALK_CHAOS=1``; the default ``pytest`` run
leaves these tests out (they kill, stop and restart servers and take minutes). Every server
the tests hurt is started here, on free ports, and never the machine's shared PostgreSQL and
Redis that other test sessions use.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import signal
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import asyncpg
import pytest

from tools.private_services import PrivatePostgres, PrivateRedis
from tools.stack import Stack, StackConfig
from wrktalk_testing.network import free_port
from wrktalk_testing.postgres import run_sync

if not os.environ.get("WRKTALK_CHAOS"):
    collect_ignore_glob = ["test_*.py"]

CHILD_PYTHON_ENV = {
    # The machine's default (no bytecode written) would make every process the suite starts
    # compile the whole workspace again; a cache outside the tree keeps starts short.
    "PYTHONDONTWRITEBYTECODE": "",
    # tests read the processes' logs while they run
    "PYTHONUNBUFFERED": "1",
    "PYTHONPYCACHEPREFIX": os.path.join(tempfile.gettempdir(), "wrktalk-chaos-pycache"),
}
TEMPLATES = {"gcc": "chaos_template_gcc", "backend": "chaos_template_backend"}


@pytest.fixture(scope="session")
def private_postgres() -> Iterator[PrivatePostgres]:
    """A PostgreSQL cluster of the suite's own, which tests may stop and restart."""
    server = PrivatePostgres().start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def private_redis() -> Iterator[PrivateRedis]:
    """A Redis server of the suite's own, without persistence, which tests may restart."""
    server = PrivateRedis().start()
    try:
        yield server
    finally:
        server.close()


def _database_url(admin_dsn: str, name: str) -> str:
    base = admin_dsn.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    return f"{base}/{name}"


async def _execute(admin_dsn: str, statement: str) -> None:
    connection = await asyncpg.connect(admin_dsn)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@pytest.fixture(scope="session")
def migrated_templates(private_postgres: PrivatePostgres) -> dict[str, str]:
    """GCC's and the customer backend's migrated databases, copied by each test's stack."""
    from customer_backend.migrations_runner import upgrade_to_head as upgrade_backend
    from gcc.migrations_runner import upgrade_to_head as upgrade_gcc

    for tier, upgrade in (("gcc", upgrade_gcc), ("backend", upgrade_backend)):
        name = TEMPLATES[tier]
        statement = f'CREATE DATABASE "{name}"'
        run_sync(lambda statement=statement: _execute(private_postgres.admin_dsn, statement))
        upgrade(_database_url(private_postgres.admin_dsn, name))
    return TEMPLATES


_redis_numbers = itertools.count(1)


@pytest.fixture
def chaos_stack(
    tmp_path: Path,
    private_postgres: PrivatePostgres,
    private_redis: PrivateRedis,
    migrated_templates: dict[str, str],
) -> Iterator[Callable[..., Stack]]:
    """Make a :class:`Stack` on the private servers, its databases copied from the templates.

    The returned function takes the stack's customers and extra settings; the stack's
    processes are started by the test (``stack.spawn``) and all stopped afterwards.
    """
    made: list[Stack] = []

    def make(**overrides: object) -> Stack:
        prefix = f"chaos_{uuid.uuid4().hex[:8]}"
        config = StackConfig(
            var=tmp_path / "stack",
            prefix=prefix,
            postgres_dsn=private_postgres.admin_dsn,
            redis_base=private_redis.url,
            gcc_redis_db=next(_redis_numbers) % 16,
            gcc_port=free_port(),
            # nothing listens there: these tests send no email and store no artifact
            s3_port=free_port(),
            smtp_port=free_port(),
            customers=(),
            dispatch_interval=1.0,
            webhook_retry_delay=1.0,
            prometheus_port=None,
            gcc_worker_metrics_port=None,
        )
        for key, value in overrides.items():
            setattr(config, key, value)
        config.customers = tuple(
            dataclasses.replace(customer, redis_db=next(_redis_numbers) % 16)
            for customer in config.customers
        )
        config.extra_gcc_env = {**CHILD_PYTHON_ENV, **config.extra_gcc_env}
        config.extra_backend_env = {**CHILD_PYTHON_ENV, **config.extra_backend_env}
        names = {"gcc": "gcc", **{customer.name: "backend" for customer in config.customers}}
        for name, tier in names.items():
            statement = f'CREATE DATABASE "{prefix}_{name}" TEMPLATE "{migrated_templates[tier]}"'
            run_sync(lambda statement=statement: _execute(private_postgres.admin_dsn, statement))
        stack = Stack(config)
        made.append(stack)
        return stack

    yield make
    for stack in made:
        # nothing to finish gracefully: the test has counted what it needed
        for process in reversed(list(stack.processes.values())):
            process.stop(signal.SIGKILL)
        if private_postgres.is_running():
            stack.reset()
