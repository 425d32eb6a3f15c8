"""The local stack keeps its one-time credentials beside its databases, so a second checkout on
the same machine starts without a 409 from GCC; one it cannot recover says `--reset`."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from gcc.migrations_runner import upgrade_to_head
from testsupport.gcc_fixtures import OPERATOR_TOKEN
from tools.stack import STACK_OPERATOR_EMAIL, CustomerSpec, Stack, StackConfig
from tools.stack_credentials import CredentialStore, CustomerCredentials, StackError
from wrktalk_testing.postgres import PostgresServer
from wrktalk_testing.servers import ServedApp


@pytest.fixture
def prefix(postgres_server: PostgresServer) -> Iterator[str]:
    """A stack prefix of its own; its credentials' database dropped afterwards."""
    name = f"wrktalk_stack_test_{uuid.uuid4().hex[:8]}"
    yield name
    CredentialStore(postgres_server.admin_dsn, name).drop()


def checkout(var: Path, prefix: str, postgres_server: PostgresServer, **fields: Any) -> Stack:
    """A stack as a clone of the repository at ``var`` would run it."""
    return Stack(
        StackConfig(
            var=var,
            prefix=prefix,
            postgres_dsn=postgres_server.admin_dsn,
            customers=(CustomerSpec("acme", 3001, 11),),
            **fields,
        )
    )


def test_a_second_checkout_finds_the_credentials_the_first_kept_until_a_reset(
    tmp_path: Path, prefix: str, postgres_server: PostgresServer
) -> None:
    kept = CustomerCredentials(
        api_key="key", webhook_secret="whsec_c2VjcmV0", admin_email="a@acme", admin_token="t"
    )
    first = checkout(tmp_path / "first", prefix, postgres_server)
    first.credentials["acme"] = kept
    first.save_credentials()

    second = checkout(tmp_path / "second", prefix, postgres_server)
    second.load_credentials()
    found = dict(second.credentials)
    second.reset()
    third = checkout(tmp_path / "third", prefix, postgres_server)
    third.load_credentials()

    assert found == {"acme": kept}
    assert second.credentials == {} == third.credentials


def test_loaded_credentials_are_the_saved_ones(
    tmp_path: Path, prefix: str, postgres_server: PostgresServer
) -> None:
    saved = CustomerCredentials(api_key="key", webhook_secret="whsec_c2VjcmV0")
    first = checkout(tmp_path / "first", prefix, postgres_server)
    first.credentials["acme"] = saved
    first.save_credentials()
    saved.admin_token = "token"
    first.save_credentials()

    second = checkout(tmp_path / "second", prefix, postgres_server)
    second.load_credentials()

    assert second.credentials == {"acme": saved}


def test_credentials_an_older_stack_kept_in_the_checkout_move_beside_the_databases(
    tmp_path: Path, prefix: str, postgres_server: PostgresServer
) -> None:
    var = tmp_path / "old"
    var.mkdir()
    (var / "stack-credentials.json").write_text(
        '{"acme": {"api_key": "k", "webhook_secret": "s", "admin_email": "", "admin_token": ""}}'
    )
    checkout(var, prefix, postgres_server).load_credentials()

    fresh = checkout(tmp_path / "fresh", prefix, postgres_server)
    fresh.load_credentials()

    assert fresh.credentials == {"acme": CustomerCredentials(api_key="k", webhook_secret="s")}


async def test_an_organization_registered_without_kept_credentials_says_reset(
    tmp_path: Path,
    prefix: str,
    postgres_server: PostgresServer,
    gcc_server: ServedApp,
    organization_factory: Any,
) -> None:
    await organization_factory("acme")
    stack = checkout(
        tmp_path,
        prefix,
        postgres_server,
        gcc_port=urlsplit(gcc_server.base_url).port,
        operator_token=OPERATOR_TOKEN,
    )

    with pytest.raises(StackError, match=r"nox -s stack -- --reset"):
        stack.register_organizations()
    stack.credentials["acme"] = CustomerCredentials(api_key="k", webhook_secret="s")
    stack.register_organizations()  # kept credentials: nothing to register


def test_each_customer_stages_downloads_in_a_directory_of_its_own(
    tmp_path: Path, prefix: str, postgres_server: PostgresServer
) -> None:
    """Both customers download the same releases, and each one's sweep removes the staged files
    its own database does not await: a shared directory would lose the other's downloads."""
    stack = checkout(
        tmp_path / "stack",
        prefix,
        postgres_server,
    )
    customers = (CustomerSpec("acme", 3001, 11), CustomerSpec("globex", 3002, 12, "compose"))
    kept = CustomerCredentials(api_key="key", webhook_secret="whsec_c2VjcmV0")
    stack.credentials = {customer.name: kept for customer in customers}

    directories = {
        stack.backend_env(customer)["WRKTALK_STAGING_DIRECTORY"] for customer in customers
    }

    assert len(directories) == 2
    assert all(Path(directory).is_relative_to(tmp_path / "stack") for directory in directories)


def test_the_stack_adds_its_operator_once_and_a_restart_keeps_it(
    tmp_path: Path, prefix: str, postgres_server: PostgresServer
) -> None:
    """GCC's console needs a named operator to sign in; the stack's second start finds it."""
    stack = Stack(
        StackConfig(
            var=tmp_path / "stack",
            prefix=prefix,
            postgres_dsn=postgres_server.admin_dsn,
            customers=(),
        )
    )
    stack.create_databases()
    try:
        upgrade_to_head(stack.config.database_url("gcc"))  # the schema only: no bucket here
        env = stack.gcc_env()
        stack.add_operator(env)
        stack.add_operator(env)  # a restart of the stack

        listed = stack.run_command([sys.executable, "-m", "gcc.cli", "operator", "list"], env)
        assert listed.count(STACK_OPERATOR_EMAIL) == 1
    finally:
        stack.reset()
