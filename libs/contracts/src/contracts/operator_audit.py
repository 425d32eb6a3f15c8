"""Operator to GCC: named operators and the audit trail (`/api/operator/audit`)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any
from uuid import UUID

from contracts.base import ContractModel
from contracts.primitives import Timestamp

__all__ = [
    "ActorKind",
    "AuditAction",
    "AuditEntryView",
    "AuditList",
    "OperatorRole",
    "OperatorView",
]


class OperatorRole(StrEnum):
    """What a named operator may do in the console."""

    OPERATOR = "operator"
    """Looks and acts: publish, deprecate, resolve, rotate, change licenses."""
    VIEWER = "viewer"
    """Looks only; every change is refused."""


class ActorKind(StrEnum):
    """Who made a change recorded in the audit trail."""

    OPERATOR = "operator"
    """A named operator, signed in to the console."""
    TOKEN = "token"  # noqa: S105 - a kind of caller, not a secret
    """The shared operator token or the CI token (automation)."""
    COMMAND = "command"
    """A `gcc` command run on a server, named after the system user who ran it."""


class AuditAction(StrEnum):
    """The changes the audit trail records."""

    RELEASE_PUBLISH = "release.publish"
    RELEASE_DEPRECATE = "release.deprecate"
    RELEASE_REDELIVER = "release.redeliver"
    ROLLOUT_RESUME = "rollout.resume"
    ROLLOUT_ADVANCE = "rollout.advance"
    ROLLOUT_PAUSE = "rollout.pause"
    ROLLOUT_WITHDRAW = "rollout.withdraw"
    ESCALATION_RESOLVE = "escalation.resolve"
    ORGANIZATION_CREATE = "organization.create"
    ORGANIZATION_UPDATE = "organization.update"
    ORGANIZATION_LICENSE = "organization.license"
    ORGANIZATION_ROTATE_SECRET = "organization.rotateSecret"  # noqa: S105 - an action name
    ORGANIZATION_DELETE = "organization.delete"
    OPERATOR_ADD = "operator.add"
    OPERATOR_DEACTIVATE = "operator.deactivate"


class OperatorView(ContractModel):
    """A named operator (never their sessions or links)."""

    id: UUID
    """The operator's id."""
    email: str
    """Their address, lowercased: where sign-in links go."""
    name: str
    """Their name as shown in the console and the audit trail."""
    role: OperatorRole
    """What they may do."""
    is_active: bool
    """False once deactivated: they can no longer sign in and their sessions ended."""
    created_at: Timestamp
    """When they were added."""
    deactivated_at: Timestamp | None = None
    """When they were deactivated."""


class AuditEntryView(ContractModel):
    """One recorded change."""

    id: UUID
    """The entry's id."""
    occurred_at: Timestamp
    """When the change was made."""
    actor_kind: ActorKind
    """A named operator, a shared token, or a command line."""
    actor: str
    """The operator's email, `operator token`, `ci token` or `command:<user>`."""
    action: AuditAction
    """What was done."""
    organization_name: str | None = None
    """The organization concerned, if any."""
    release_version: str | None = None
    """The release concerned, if any."""
    escalation_id: UUID | None = None
    """The escalation concerned, if any."""
    details: dict[str, Any] | None = None
    """Facts of the change: a resolution's reason, a license's old and new expiry, counts."""


class AuditList(ContractModel):
    """Answer to `GET /api/operator/audit`: newest first, a page at a time."""

    entries: list[AuditEntryView]
    """The entries of this page."""
    next_cursor: str | None = None
    """Pass as `before` for the next (older) page; null on the last page."""
