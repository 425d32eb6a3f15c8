"""Which database errors mean the connection (or the server) went away.

One list for every caller: the error handlers answer these with 503 and ``Retry-After``
instead of 500, since the same request succeeds once the pool has new connections. An error
about the statement itself (a constraint, a syntax error) is never one of them.

SQLAlchemy wraps a driver's error twice: its asyncpg dialect translates asyncpg's error into a
DBAPI class of its own (with asyncpg's as ``__cause__``), and the engine wraps that in a
``DBAPIError`` (``orig``); an error outside the DBAPI (a socket's ``ConnectionResetError``)
becomes a ``StatementError`` whose ``orig`` it is. So each error is looked at together with
what it wraps.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

import asyncpg
from asyncpg import exceptions as asyncpg_exceptions
from sqlalchemy import exc as sqlalchemy_exc

CONNECTION_LOST_SQLSTATES: Final = frozenset({"57P01", "57P02", "57P03", "53300"})
"""Besides class 08 (connection exception): the server shutting down (``admin_shutdown``),
crashed (``crash_shutdown``) or still starting (``cannot_connect_now``), and refusing a
connection over its limit (``too_many_connections``)."""

CONNECTION_LOST_TYPES: Final[tuple[type[Exception], ...]] = (
    # The socket itself: refused while the server is down, reset by a restart.
    ConnectionError,
    # asyncpg: "connection is closed", "another operation is in progress" after a cut.
    asyncpg.InterfaceError,
    # asyncpg's protocol in a state it cannot leave, as when the server shuts down
    # mid-statement: "cannot switch to state 12; another operation (2) is in progress".
    asyncpg.InternalClientError,
    # asyncpg: the connection exception class (08); the shutdowns (57P0x) go by their
    # SQLSTATE, since their class also holds QueryCanceledError (57014), a statement's fault.
    asyncpg.PostgresConnectionError,
    asyncpg.TooManyConnectionsError,
    # SQLAlchemy: a pooled connection that failed its ping, and a pool with no connection
    # free within its timeout.
    sqlalchemy_exc.DisconnectionError,
    sqlalchemy_exc.TimeoutError,
)
"""Error classes that mean the database is unreachable, whatever the statement was."""

NOT_CONNECTION_LOST_TYPES: Final[tuple[type[Exception], ...]] = (
    # InterfaceError subclasses about how the client is used, not about the connection.
    asyncpg_exceptions.ClientConfigurationError,
    asyncpg_exceptions.UnsupportedClientFeatureError,
)

_MOST_WRAPPED = 8
"""How deep the chain of wrapped errors is followed (a guard against a cycle)."""


def sqlstate_of(exc: BaseException) -> str | None:
    """The SQLSTATE of a database error, raised by asyncpg or wrapped by SQLAlchemy."""
    if isinstance(exc, sqlalchemy_exc.DBAPIError):
        exc = exc.orig if exc.orig is not None else exc
    code = getattr(exc, "sqlstate", None)
    return code if isinstance(code, str) else None


def _error_and_wrapped(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(seen) < _MOST_WRAPPED:
        seen.add(id(current))
        yield current
        wrapped = current.orig if isinstance(current, sqlalchemy_exc.StatementError) else None
        current = wrapped if isinstance(wrapped, BaseException) else current.__cause__


def _is_lost(exc: BaseException) -> bool:
    if isinstance(exc, NOT_CONNECTION_LOST_TYPES):
        return False
    if isinstance(exc, sqlalchemy_exc.DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, CONNECTION_LOST_TYPES):
        return True
    code = sqlstate_of(exc)
    return code is not None and (code.startswith("08") or code in CONNECTION_LOST_SQLSTATES)


def is_connection_lost(exc: BaseException) -> bool:
    """Whether a database error means the connection (or the server) went away, rather than
    anything about the statement: a restart or failover of PostgreSQL, a network cut.

    ``exc`` and the errors it wraps (SQLAlchemy's ``orig``, then ``__cause__``) are each
    checked against :data:`CONNECTION_LOST_TYPES` and :data:`CONNECTION_LOST_SQLSTATES`.
    """
    return any(_is_lost(error) for error in _error_and_wrapped(exc))


TEMPORARY_SQLSTATES: Final = frozenset(
    {
        "40001",  # serialization_failure
        "40P01",  # deadlock_detected
        "55P03",  # lock_not_available (lock_timeout)
        "57014",  # query_canceled (statement_timeout, or an administrator's cancel)
        "25006",  # read_only_sql_transaction (a failover left this node a standby)
    }
)
"""Statement failures a later try of the same request is expected to survive: a transaction
that lost a race, a lock or statement timeout, a node that became read-only in a failover.
Class 53 (insufficient resources: disk full, out of memory) counts too."""


def is_temporary_failure(exc: BaseException) -> bool:
    """Whether a database error is worth the same request again later: a lost connection
    (:func:`is_connection_lost`), or a statement the server refused for its own state rather
    than for the statement (:data:`TEMPORARY_SQLSTATES`, class 53)."""
    if is_connection_lost(exc):
        return True
    for error in _error_and_wrapped(exc):
        code = sqlstate_of(error)
        if code is not None and (code in TEMPORARY_SQLSTATES or code.startswith("53")):
            return True
    return False
