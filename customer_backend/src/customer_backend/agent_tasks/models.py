"""The agent task queue and the log lines tasks produce."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field

from contracts import TRACEPARENT_LENGTH
from customer_backend.table_base import TableBase
from servicekit.columns import enum_field, id_field, json_field, text_field, timestamp_field


class AgentTask(TableBase, table=True):
    """Work for the agent, claimed atomically by one poll."""

    __tablename__ = "agent_task"
    __table_args__ = (sa.Index("ix_agent_task_status_execute_after", "status", "execute_after"),)

    id: uuid.UUID = id_field()
    type: str = enum_field()
    status: str = enum_field(default="pending")
    deployment_id: uuid.UUID | None = Field(
        default=None, foreign_key="scheduled_deployment.id", index=True
    )
    payload: dict[str, Any] = json_field(nullable=False)
    execute_after: datetime = timestamp_field(nullable=False)
    picked_up_at: datetime | None = timestamp_field()
    last_heartbeat_at: datetime | None = timestamp_field()
    completed_at: datetime | None = timestamp_field()
    result: dict[str, Any] | None = json_field()
    error_message: str | None = text_field()
    # Whether running a task that did not succeed again could succeed, as the agent reported;
    # None until it ends, after a success, and for a task cancelled or timed out.
    retryable: bool | None = None
    # How many times a poll claimed it. A failed task is not claimed again on its own: an
    # admin schedules the deployment again (or asks for the rollback again), which queues a
    # new task.
    attempts: int = 0
    created_by: str | None = Field(default=None, max_length=320)
    # The trace the task continues (its release's, or the request that queued it); the poll
    # hands it to the agent.
    trace_parent: str | None = Field(default=None, max_length=TRACEPARENT_LENGTH)
    created_at: datetime = timestamp_field(nullable=False)
    updated_at: datetime = timestamp_field(nullable=False)


class TaskLogLine(TableBase, table=True):
    """One line of a task's output, in the order the agent sent it."""

    __tablename__ = "task_log_line"
    __table_args__ = (sa.Index("ix_task_log_line_task_id_id", "task_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    task_id: uuid.UUID = Field(foreign_key="agent_task.id")
    logged_at: datetime = timestamp_field(nullable=False)
    stream: str = Field(max_length=16)
    line: str = Field(sa_type=sa.Text)
