"""The customer backend's agent API (spec 14.3), spoken with the shared contract models."""

from __future__ import annotations

import json
from typing import TypeVar
from uuid import UUID

import httpx
from pydantic import BaseModel, ValidationError

from contracts import (
    AgentPollResponse,
    ConfigInsertRequest,
    ConfigInsertResponse,
    DeployTask,
    LicenseStatus,
    LogBatch,
    MaintenanceTask,
    ReceivedAck,
    RollbackTask,
    TaskHeartbeatAck,
    TaskStatusUpdate,
)
from telemetry import inject_traceparent
from wrktalk_agent.errors import BackendRejected, BackendUnavailable

ResponseModel = TypeVar("ResponseModel", bound=BaseModel)

TASKS_PATH = "/internal/agent/tasks"
CONFIG_PATH = "/internal/config"
LICENSE_PATH = "/internal/license/status"
AGENT_SECRET_HEADER = "X-Agent-Secret"  # noqa: S105 - a header name


class MalformedTask(Exception):
    """The backend handed out a task the agent cannot read; ``task_id`` when one was found."""

    def __init__(self, message: str, *, task_id: UUID | None) -> None:
        super().__init__(message)
        self.task_id = task_id


class BackendClient:
    """HTTP client for ``/internal/agent/*``, ``/internal/config`` and ``/internal/license``.

    Raises :class:`BackendUnavailable` when the backend cannot be reached or answers 5xx and
    :class:`BackendRejected` for a 4xx answer (401: the secret is wrong).
    """

    def __init__(
        self,
        *,
        base_url: str,
        agent_secret: str,
        timeout: float,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers={AGENT_SECRET_HEADER: agent_secret},
            timeout=timeout,
            transport=transport,
        )

    async def aclose(self) -> None:
        """Close the connections."""
        await self._client.aclose()

    async def claim_task(self) -> DeployTask | RollbackTask | MaintenanceTask | None:
        """``GET /internal/agent/tasks``: the task this agent now owns, or None."""
        response = await self._request("GET", TASKS_PATH)
        try:
            return AgentPollResponse.model_validate_json(response.content).task
        except ValidationError as exc:
            raise MalformedTask(
                f"the task does not match the contract: {exc.errors()[0]['msg']} at "
                f"{'.'.join(str(part) for part in exc.errors()[0]['loc'])}",
                task_id=_task_id_of(response.content),
            ) from exc

    async def report_status(self, task_id: UUID, update: TaskStatusUpdate) -> None:
        """``POST /internal/agent/tasks/{id}/status``."""
        await self._request(
            "POST", f"{TASKS_PATH}/{task_id}/status", body=update.model_dump(mode="json")
        )

    async def heartbeat(self, task_id: UUID) -> TaskHeartbeatAck:
        """``POST /internal/agent/tasks/{id}/heartbeat``: the task's status after it."""
        response = await self._request("POST", f"{TASKS_PATH}/{task_id}/heartbeat")
        return self._parse(response, TaskHeartbeatAck)

    async def send_logs(self, task_id: UUID, batch: LogBatch) -> None:
        """``POST /internal/agent/tasks/{id}/logs``."""
        response = await self._request(
            "POST", f"{TASKS_PATH}/{task_id}/logs", body=batch.model_dump(mode="json")
        )
        self._parse(response, ReceivedAck)

    async def insert_config(self, request: ConfigInsertRequest) -> ConfigInsertResponse:
        """``POST /internal/config``: add a non-essential variable unless it exists."""
        response = await self._request("POST", CONFIG_PATH, body=request.model_dump(mode="json"))
        return self._parse(response, ConfigInsertResponse)

    async def license_status(self) -> LicenseStatus:
        """``GET /internal/license/status``."""
        response = await self._request("GET", LICENSE_PATH)
        return self._parse(response, LicenseStatus)

    async def _request(
        self, method: str, path: str, *, body: object | None = None
    ) -> httpx.Response:
        headers: dict[str, str] = {}
        inject_traceparent(headers)
        try:
            response = await self._client.request(method, path, json=body, headers=headers)
        except httpx.HTTPError as exc:
            raise BackendUnavailable(
                f"{method} {path}: {type(exc).__name__}: {exc or 'no answer'}"
            ) from exc
        if response.status_code >= 500:
            raise BackendUnavailable(f"{method} {path}: HTTP {response.status_code}")
        if response.status_code >= 400:
            raise BackendRejected(
                f"{method} {path}: HTTP {response.status_code}: {_detail(response)}",
                status_code=response.status_code,
            )
        return response

    @staticmethod
    def _parse(response: httpx.Response, model: type[ResponseModel]) -> ResponseModel:
        try:
            return model.model_validate_json(response.content)
        except ValidationError as exc:
            raise BackendUnavailable(
                f"{response.request.url.path}: answer does not match {model.__name__}"
            ) from exc


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    if isinstance(body, dict):
        return str(body.get("detail") or body.get("error") or body)[:300]
    return str(body)[:300]


def _task_id_of(raw: bytes) -> UUID | None:
    try:
        return UUID(str(json.loads(raw)["task"]["id"]))
    except (ValueError, KeyError, TypeError):
        return None
