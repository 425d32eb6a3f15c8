"""Email notifications: written with the change that causes them, sent by the worker."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlmodel import Field

from customer_backend.table_base import TableBase
from servicekit.columns import id_field, json_field, text_field, timestamp_field


class Notification(TableBase, table=True):
    """One email to the admins; ``dedupe_key`` makes every reminder go exactly once."""

    __tablename__ = "notification"

    id: uuid.UUID = id_field()
    event: str = Field(max_length=64, index=True)
    dedupe_key: str = Field(max_length=300, sa_column_kwargs={"unique": True})
    context: dict[str, Any] = json_field(nullable=False)
    recipients: list[str] | None = json_field()
    addressed_to: list[str] | None = json_field()
    """Only these addresses (if still active admins) receive it; null: every active admin."""
    created_at: datetime = timestamp_field(nullable=False)
    sent_at: datetime | None = timestamp_field(index=True)
    attempts: int = 0
    next_attempt_at: datetime | None = timestamp_field()
    last_error: str | None = text_field()
