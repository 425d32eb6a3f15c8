"""Control Tower (admin UI) to customer backend: essential configuration and live deployment logs.

The essential configuration is what the agent deploys with: `values.yaml` for Helm
(kubernetes, gitops) or `.env` for Compose (docker). Every change is a new numbered revision
stored in the customer bucket, so a rollback to a version uses the revision that version ran
with. It holds the installation's secrets: only a `support` admin (or the backend's command line)
saves it, and no answer carries a value, or a digest that would confirm a guessed one; admins
see the keys, who changed which keys, and when. Deployment logs stream as Server-Sent Events
whose `data` is a :class:`DeploymentLogLineView` and whose final `end` event carries a
:class:`DeploymentLogEnd`.
"""

from __future__ import annotations

from typing import Final, Literal
from uuid import UUID

from pydantic import Field

from contracts.base import ContractModel
from contracts.enums import AgentTaskStatus, LocalDeploymentStatus, LogStream
from contracts.primitives import BucketKey, Timestamp

__all__ = [
    "MAX_ESSENTIAL_CONFIG_BYTES",
    "DeploymentLogEnd",
    "DeploymentLogLineView",
    "EssentialConfigKind",
    "EssentialConfigRevisionList",
    "EssentialConfigRevisionView",
    "EssentialConfigUpdate",
    "EssentialConfigView",
]

MAX_ESSENTIAL_CONFIG_BYTES: Final = 1_048_576
"""Largest accepted essential configuration, in characters."""

EssentialConfigKind = Literal["values", "env"]
"""`values` (Helm `values.yaml`, kubernetes and gitops) or `env` (Compose `.env`, docker)."""


class EssentialConfigUpdate(ContractModel):
    """Body of `PUT /api/admin/config/essential`: the whole new file (a `support` admin only).

    For Helm it must parse as a YAML mapping (an empty file is an empty mapping); for Compose
    every line is `KEY=VALUE`, a `#` comment or blank.
    """

    content: str = Field(max_length=MAX_ESSENTIAL_CONFIG_BYTES)
    """The file's text."""


class EssentialConfigRevisionView(ContractModel):
    """One stored revision of the essential configuration: the audit of one change."""

    revision: int = Field(ge=1)
    """Revision number, counting up from 1."""
    kind: EssentialConfigKind
    """`values` (Helm) or `env` (Compose)."""
    bucket_path: BucketKey
    """Key in the customer bucket: `config/values.r{N}.yaml` or `config/env.r{N}`."""
    created_by: str
    """Who saved it: a support admin's email, what the command line recorded, or `system` for
    the empty first revision."""
    author_role: str | None = None
    """`support`, `cli` or `system`; null for a revision saved before roles were recorded."""
    created_at: Timestamp
    """When it was saved."""
    is_current: bool = False
    """The next deployment uses this revision."""
    added_keys: list[str] | None = None
    """Keys this revision set that the one before did not; null when not recorded."""
    changed_keys: list[str] | None = None
    """Keys whose value this revision changed; null when not recorded."""
    removed_keys: list[str] | None = None
    """Keys the revision before set and this one does not; null when not recorded."""


class EssentialConfigView(ContractModel):
    """Answer to `GET` and `PUT /api/admin/config/essential`: the current revision and its keys,
    never their values.

    Before anything is saved `revision` is null and `keys` is empty.
    """

    revision: int | None = Field(default=None, ge=1)
    """The current revision; null when none has been saved yet."""
    kind: EssentialConfigKind
    """`values` (Helm) or `env` (Compose), from this installation's deployment type."""
    bucket_path: BucketKey | None = None
    """Key of the current revision in the customer bucket."""
    keys: list[str] = Field(default_factory=list)
    """The settings the current revision sets, sorted: `.env` variable names, or `values.yaml`
    dotted paths (`ingress.host`)."""
    created_by: str | None = None
    """Who saved the current revision."""
    created_at: Timestamp | None = None
    """When the current revision was saved."""


class EssentialConfigRevisionList(ContractModel):
    """Answer to `GET /api/admin/config/essential/revisions`."""

    revisions: list[EssentialConfigRevisionView] = Field(default_factory=list)
    """Every revision of this installation's kind, newest first."""


class DeploymentLogLineView(ContractModel):
    """The `data` of one log event of `GET /api/admin/deployment/{id}/logs/stream`.

    The event's `id` is the line's `id`; send it back as `Last-Event-ID` to resume.
    """

    id: int = Field(ge=1)
    """The line's id, increasing in the order lines were received."""
    task_id: UUID
    """The agent task that produced the line."""
    timestamp: Timestamp
    """When the agent produced the line."""
    stream: LogStream
    """`stdout`, `stderr` or `agent`."""
    line: str
    """The text."""


class DeploymentLogPage(ContractModel):
    """Answer to `GET /api/admin/deployment/{id}/logs`: the lines after `afterId`."""

    lines: list[DeploymentLogLineView] = Field(default_factory=list)
    """At most `limit` lines, oldest first."""
    next_after_id: int = Field(ge=0)
    """Send as `afterId` for the next page (the last line's id, or `afterId` when empty)."""
    is_finished: bool
    """Every task has ended: no line will follow the ones already stored."""


class DeploymentLogEnd(ContractModel):
    """The `data` of the final `end` event: the task finished and every line was sent."""

    task_id: UUID | None = None
    """The latest task of the deployment, if it has one."""
    task_status: AgentTaskStatus | None = None
    """Its final status: `completed`, `failed` or `cancelled`."""
    deployment_status: LocalDeploymentStatus | None = None
    """The deployment's status, when the stream belongs to a deployment."""
