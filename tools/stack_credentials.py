"""The local stack's one-time credentials, kept beside its databases.

GCC shows an organization's API key and webhook secret once, and a customer backend its admin's
token once. The stack's databases live on the machine's PostgreSQL server, shared by every
checkout on the machine, so the credentials live there too, in a database of their own
(``<prefix>_stack``): a second clone that finds the organizations registered finds their
credentials as well, and ``--reset`` drops them with the databases they open.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import asyncpg

from tools.waiting import run_sync


@dataclass
class CustomerCredentials:
    """What a customer stack needs from GCC, and its admin's Control Tower token."""

    api_key: str
    webhook_secret: str
    admin_email: str = ""
    admin_token: str = ""


class StackError(Exception):
    """The stack cannot start as it is; the message says what to do."""


class CredentialStore:
    """The table ``credentials`` in the database ``<prefix>_stack`` of the stack's server."""

    def __init__(self, postgres_dsn: str, prefix: str) -> None:
        """``postgres_dsn`` is the server's admin DSN (its ``postgres`` database)."""
        self.admin_dsn = postgres_dsn
        self.database = f"{prefix}_stack"
        self.dsn = f"{postgres_dsn.rsplit('/', 1)[0]}/{self.database}"

    def load(self) -> dict[str, CustomerCredentials]:
        """The credentials saved by any earlier run on this server (none before the first)."""

        async def read() -> dict[str, CustomerCredentials]:
            if not await self._exists():
                return {}
            connection = await asyncpg.connect(self.dsn)
            try:
                rows = await connection.fetch("SELECT name, body FROM credentials")
            finally:
                await connection.close()
            return {row["name"]: CustomerCredentials(**json.loads(row["body"])) for row in rows}

        result: dict[str, CustomerCredentials] = run_sync(read)
        return result

    def save(self, credentials: dict[str, CustomerCredentials]) -> None:
        """Keep every customer's credentials (added or replaced)."""

        async def write() -> None:
            await self._create()
            connection = await asyncpg.connect(self.dsn)
            try:
                await connection.executemany(
                    "INSERT INTO credentials (name, body) VALUES ($1, $2) "
                    "ON CONFLICT (name) DO UPDATE SET body = excluded.body",
                    [(name, json.dumps(asdict(value))) for name, value in credentials.items()],
                )
            finally:
                await connection.close()

        run_sync(write)

    def drop(self) -> None:
        """Forget every credential (with the databases they open)."""

        async def drop() -> None:
            connection = await asyncpg.connect(self.admin_dsn)
            try:
                await connection.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
            finally:
                await connection.close()

        run_sync(drop)

    async def _exists(self) -> bool:
        connection = await asyncpg.connect(self.admin_dsn)
        try:
            found = await connection.fetchval(
                "SELECT 1 FROM pg_database WHERE datname = $1", self.database
            )
        finally:
            await connection.close()
        return found is not None

    async def _create(self) -> None:
        if not await self._exists():
            connection = await asyncpg.connect(self.admin_dsn)
            try:
                await connection.execute(f'CREATE DATABASE "{self.database}"')
            except asyncpg.DuplicateDatabaseError:  # another checkout created it meanwhile
                pass
            finally:
                await connection.close()
        connection = await asyncpg.connect(self.dsn)
        try:
            await connection.execute(
                "CREATE TABLE IF NOT EXISTS credentials (name text PRIMARY KEY, body text NOT NULL)"
            )
        finally:
            await connection.close()


def legacy_credentials(path: Path) -> dict[str, CustomerCredentials]:
    """Credentials an older stack kept in the checkout's ``var/stack-credentials.json``."""
    if not path.is_file():
        return {}
    raw = json.loads(path.read_text())
    return {name: CustomerCredentials(**value) for name, value in raw.items()}
