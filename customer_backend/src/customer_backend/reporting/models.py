"""The outbox of reports to GCC, retried until GCC accepts them."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field

from contracts import TRACEPARENT_LENGTH
from customer_backend.table_base import TableBase
from servicekit.columns import id_field, json_field, text_field, timestamp_field


class OutboxKind(enum.StrEnum):
    """What an outbox message reports."""

    STATUS = "status"
    SCHEDULED = "scheduled"


class GccOutboxMessage(TableBase, table=True):
    """A scheduled or status report waiting to be accepted by GCC.

    ``sent_at`` is set once GCC accepted it; ``refused_at`` once GCC refused it for good (a 4xx
    that sending again cannot change), with GCC's answer in ``last_error``. Either ends it.
    """

    __tablename__ = "gcc_outbox"

    id: uuid.UUID = id_field()
    # Insertion order, which the flush keeps: timestamps can tie (two reports written by one
    # transaction) and ids are random.
    sequence: int | None = Field(
        default=None,
        sa_column=sa.Column(sa.BigInteger, sa.Identity(), nullable=False, unique=True),
    )
    kind: str = Field(max_length=32)
    path: str = Field(max_length=300)
    payload: dict[str, Any] = json_field(nullable=False)
    created_at: datetime = timestamp_field(nullable=False)
    attempts: int = 0
    next_attempt_at: datetime = timestamp_field(nullable=False, index=True)
    sent_at: datetime | None = timestamp_field(index=True)
    refused_at: datetime | None = timestamp_field()
    last_error: str | None = text_field()
    # The span that wrote the report: sending it continues that trace at GCC.
    trace_parent: str | None = Field(default=None, max_length=TRACEPARENT_LENGTH)
