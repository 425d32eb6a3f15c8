"""Console sign-in links and sessions, declared from consolekit's field sets."""

from __future__ import annotations

from consolekit.sessions import ConsoleSessionFields
from consolekit.signin import SignInLinkFields
from customer_backend.table_base import TableBase


class ConsoleSignInLink(TableBase, SignInLinkFields, table=True):
    """A one-time link emailed to an admin; only its hash is stored. ``principal_id`` is the
    admin's id."""

    __tablename__ = "console_sign_in_link"


class ConsoleSession(TableBase, ConsoleSessionFields, table=True):
    """A signed-in browser; only the hash of its cookie's token is stored."""

    __tablename__ = "console_session"
