"""Database sessions of the GCC (the shared service machinery)."""

from servicekit.db import (
    SessionFactory,
    after_commit,
    create_engine,
    create_session_factory,
    session_scope,
)

__all__ = [
    "SessionFactory",
    "after_commit",
    "create_engine",
    "create_session_factory",
    "session_scope",
]
