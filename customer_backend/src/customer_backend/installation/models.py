"""The installation's single state row."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field

from contracts import MAX_VERSION_LENGTH
from customer_backend.table_base import TableBase
from servicekit.columns import timestamp_field


class InstallationState(TableBase, table=True):
    """The one row of this installation's deployment state (spec ``deploymentConfig``)."""

    __tablename__ = "installation_state"

    id: int = Field(default=1, primary_key=True)
    current_version: str | None = Field(default=None, max_length=MAX_VERSION_LENGTH)
    last_gcc_poll_at: datetime | None = timestamp_field()
    last_heartbeat_at: datetime | None = timestamp_field()
    last_agent_poll_at: datetime | None = timestamp_field()
    agent_offline_alerted_at: datetime | None = timestamp_field()
    updated_at: datetime | None = timestamp_field()
