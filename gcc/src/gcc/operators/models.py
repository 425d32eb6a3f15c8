"""Operators, their one-time sign-in links and their console sessions."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field

from consolekit.sessions import ConsoleSessionFields
from consolekit.signin import SignInLinkFields
from contracts import MAX_CONTACT_NAME_LENGTH, MAX_EMAIL_LENGTH
from gcc.table_base import TableBase
from servicekit.columns import enum_field, id_field, timestamp_field


class Operator(TableBase, table=True):
    """A named person of the vendor: ``operator`` acts, ``viewer`` only looks."""

    __tablename__ = "operator"

    id: uuid.UUID = id_field()
    email: str = Field(max_length=MAX_EMAIL_LENGTH, sa_column_kwargs={"unique": True})
    """Stored lowercased: one address, one operator."""
    name: str = Field(max_length=MAX_CONTACT_NAME_LENGTH)
    role: str = enum_field()
    is_active: bool = Field(default=True, sa_column_kwargs={"server_default": sa.true()})
    created_at: datetime = timestamp_field(nullable=False)
    deactivated_at: datetime | None = timestamp_field()


class OperatorSignInLink(TableBase, SignInLinkFields, table=True):
    """A one-time sign-in link emailed to an operator; only its token's hash is stored.
    ``principal_id`` is the operator's id."""

    __tablename__ = "operator_sign_in_link"


class OperatorSession(TableBase, ConsoleSessionFields, table=True):
    """A signed-in browser; only the hash of its cookie's token is stored. ``principal_id`` is
    the operator's id."""

    __tablename__ = "operator_session"
