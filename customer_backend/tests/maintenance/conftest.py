"""Reads of the backend's tables and a way to insert a task, for the maintenance tests."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from sqlmodel import col, select

from customer_backend.agent_tasks.models import AgentTask
from customer_backend.deployments.models import DeploymentHistory
from customer_backend.notifications.models import Notification
from servicekit.db import SessionFactory
from timekeeping import ManualClock


@dataclass
class Rows:
    """Reads of the backend's tables for assertions."""

    sessions: SessionFactory

    async def notifications(self, event: str) -> list[Notification]:
        """Queued emails of one event, oldest first."""
        async with self.sessions() as session:
            result = await session.exec(
                select(Notification)
                .where(Notification.event == event)
                .order_by(col(Notification.created_at))
            )
            return list(result.all())

    async def get(self, model: Any, key: Any) -> Any:
        """A fresh copy of a row."""
        async with self.sessions() as session:
            return await session.get(model, key)

    async def history(self) -> list[DeploymentHistory]:
        """Every history row."""
        async with self.sessions() as session:
            return list((await session.exec(select(DeploymentHistory))).all())


@pytest.fixture
def rows(backend_sessions: SessionFactory) -> Rows:
    """Reads of the backend's tables (emptied for this test)."""
    return Rows(backend_sessions)


@pytest.fixture
def task_factory(
    backend_sessions: SessionFactory, gcc_clock: ManualClock
) -> Callable[..., Awaitable[AgentTask]]:
    """Insert a pending deploy task directly."""

    async def create(*, payload: dict[str, Any], execute_after: datetime) -> AgentTask:
        now = gcc_clock.now()
        task = AgentTask(
            id=uuid.uuid4(),
            type="deploy",
            status="pending",
            payload=payload,
            execute_after=execute_after,
            created_at=now,
            updated_at=now,
        )
        async with backend_sessions() as session:
            session.add(task)
            await session.commit()
        return task

    return create
