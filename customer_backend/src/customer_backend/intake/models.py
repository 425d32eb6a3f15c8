"""Webhooks already received, so a replay changes nothing."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel import Field

from contracts import MAX_WEBHOOK_ID_LENGTH
from customer_backend.table_base import TableBase
from servicekit.columns import timestamp_field


class ReceivedWebhook(TableBase, table=True):
    """A webhook id seen once."""

    __tablename__ = "received_webhook"

    webhook_id: str = Field(primary_key=True, max_length=MAX_WEBHOOK_ID_LENGTH)
    gcc_release_id: uuid.UUID
    received_at: datetime = timestamp_field(nullable=False)
