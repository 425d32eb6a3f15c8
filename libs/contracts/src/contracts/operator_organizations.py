"""Operator to GCC: organizations and the fleet (`/api/operator/organizations`, `/fleet`).

Secrets appear in two answers only, once each: `OrganizationCreated` carries the new API key and
webhook secret, `SecretRotated` the new webhook secret. `OrganizationView` never carries a
secret or the key's hash.
"""

from __future__ import annotations

from typing import Annotated, Any, Final
from urllib.parse import urlsplit
from uuid import UUID

from pydantic import Field, field_validator

from contracts.base import ContractModel, omit_null
from contracts.enums import DeploymentType, HealthStatus, HeartbeatStatus
from contracts.limits import MAX_CONTACT_NAME_LENGTH, MAX_EMAIL_LENGTH, MAX_PHONE_LENGTH
from contracts.primitives import SPACE, OrganizationName, TextPattern, Timestamp
from contracts.rollouts import RingName
from contracts.versions import Version

__all__ = [
    "MAX_WEBHOOK_ENDPOINT_LENGTH",
    "WEBHOOK_ENDPOINT_PATTERN",
    "EmailAddress",
    "FleetSummary",
    "FleetVersionCount",
    "OrganizationContacts",
    "OrganizationCreateRequest",
    "OrganizationCreated",
    "OrganizationList",
    "OrganizationUpdateRequest",
    "OrganizationView",
    "SecretRotated",
    "VersionHistoryEntry",
    "VersionHistoryList",
]

MAX_WEBHOOK_ENDPOINT_LENGTH: Final = 2000
"""Longest accepted webhook endpoint URL."""

WEBHOOK_ENDPOINT_PATTERN: Final = (
    r"^https?://(?:[A-Za-z0-9._~%!$&'()*+,;=:-]*@)?[A-Za-z0-9._~%!$&'()*+,;=-]+"
    rf"(?::[0-9]*)?(?:[/?#][^{SPACE}]*)?$"
)
"""The webhook endpoints the document promises to accept: an http(s) URL with an ASCII host
and no whitespace. Validation (:func:`_check_webhook_endpoint`) accepts these and a few more
(an upper-case scheme, an IPv6 host); the document keeps to the plain ones."""

EmailAddress = Annotated[
    str,
    TextPattern(
        rf"^[^@{SPACE}]+@[^@{SPACE}]+\.[^@{SPACE}]+$",
        "an email address such as 'name@example.com'",
        MAX_EMAIL_LENGTH,
    ),
]
"""An email address: something, '@', a domain with a dot; no whitespace."""


def _changed_webhook_endpoint_schema(schema: dict[str, Any]) -> None:
    schema["pattern"] = WEBHOOK_ENDPOINT_PATTERN
    omit_null(schema)


def _check_webhook_endpoint(value: str) -> str:
    """An absolute http(s) URL with a host; whether plain http is allowed is GCC's setting."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("the webhook endpoint must be an absolute https:// (or http://) URL")
    if any(character.isspace() for character in value):
        raise ValueError("the webhook endpoint must not contain whitespace")
    return value


class OrganizationContacts(ContractModel):
    """The customer's single point of contact, kept for manual outreach."""

    spoc_name: str | None = Field(default=None, max_length=MAX_CONTACT_NAME_LENGTH)
    """Name of the customer's single point of contact."""
    spoc_email: EmailAddress | None = None
    """Email of the single point of contact."""
    spoc_phone: str | None = Field(default=None, max_length=MAX_PHONE_LENGTH)
    """Phone number of the single point of contact."""


class OrganizationCreateRequest(ContractModel):
    """Body of `POST /api/operator/organizations`."""

    name: OrganizationName
    """Unique name, lowercase letters, digits and hyphens, such as `customer-x`."""
    deployment_type: DeploymentType
    """How the organization runs the product: `kubernetes`, `docker` or `gitops`."""
    webhook_endpoint: str = Field(
        max_length=MAX_WEBHOOK_ENDPOINT_LENGTH,
        json_schema_extra={"pattern": WEBHOOK_ENDPOINT_PATTERN},
    )
    """Where GCC posts `release.published` webhooks; https unless GCC allows plain http."""
    license_expires_at: Timestamp | None = None
    """When the license expires; releases are not sent after that."""
    current_version: Version | None = None
    """The version the organization runs today, if known."""
    contacts: OrganizationContacts = Field(default_factory=OrganizationContacts)
    """The customer's single point of contact."""
    account_manager_email: EmailAddress | None = None
    """The account manager who receives this organization's escalations."""

    @field_validator("webhook_endpoint")
    @classmethod
    def _absolute_url(cls, value: str) -> str:
        return _check_webhook_endpoint(value)


class OrganizationUpdateRequest(ContractModel):
    """Body of `PATCH /api/operator/organizations/{name}`: only the fields present change.

    `licenseExpiresAt` and `accountManagerEmail` may be set to null to clear them; within
    `contacts`, only the fields present change.
    """

    # Null is refused for these two (each must keep a value): the document says so.
    deployment_type: DeploymentType | None = Field(default=None, json_schema_extra=omit_null)
    """New deployment type."""
    webhook_endpoint: str | None = Field(
        default=None,
        max_length=MAX_WEBHOOK_ENDPOINT_LENGTH,
        json_schema_extra=_changed_webhook_endpoint_schema,
    )
    """New webhook endpoint."""
    license_expires_at: Timestamp | None = None
    """New license expiry (null clears it)."""
    contacts: OrganizationContacts | None = None
    """Contact fields to change."""
    account_manager_email: EmailAddress | None = None
    """New account manager (null clears it)."""
    ring: RingName | None = Field(default=None, json_schema_extra=omit_null)
    """New rollout ring, one of GCC's `GCC_ROLLOUT_RINGS`."""

    @field_validator("webhook_endpoint")
    @classmethod
    def _absolute_url(cls, value: str | None) -> str | None:
        return None if value is None else _check_webhook_endpoint(value)


class OrganizationView(ContractModel):
    """An organization as operators see it; never holds a secret or the API key's hash."""

    id: UUID
    """GCC's id of the organization."""
    name: str
    """Unique name."""
    deployment_type: DeploymentType
    """How the organization runs the product."""
    webhook_endpoint: str
    """Where webhooks are posted."""
    license_expires_at: Timestamp | None = None
    """When the license expires."""
    current_version: Version | None = None
    """The version the organization last reported."""
    app_version: str | None = None
    """The application version its agent last reported running (spec 5.6 `appVer`)."""
    heartbeat_enabled: bool = True
    """False when the customer backend said it sends no heartbeats (its
    `WRKTALK_HEARTBEAT_ENABLED`): its health is then `unknown`, never offline."""
    reported_status: HeartbeatStatus | None = None
    """How the customer backend described itself in its last heartbeat."""
    health_status: HealthStatus
    """GCC's classification from `lastSeenAt`."""
    is_online: bool
    """Seen within the last 10 minutes."""
    last_heartbeat_at: Timestamp | None = None
    """When the last heartbeat arrived."""
    last_webhook_ack_at: Timestamp | None = None
    """When a webhook was last acknowledged."""
    last_seen_at: Timestamp | None = None
    """The later of the two above, as of the last classification."""
    agent_last_poll_at: Timestamp | None = None
    """When the agent last polled its backend, as the last heartbeat reported."""
    contacts: OrganizationContacts
    """The customer's single point of contact."""
    account_manager_email: str | None = None
    """The account manager who receives escalations."""
    previous_secret_expires_at: Timestamp | None = None
    """Until when webhooks are also signed with the previous secret (after a rotation)."""
    ring: str = "general"
    """The rollout ring the organization belongs to."""
    created_at: Timestamp
    """When the organization was added."""
    updated_at: Timestamp
    """When it last changed."""


class OrganizationCreated(ContractModel):
    """Answer to `POST /api/operator/organizations`: the credentials are shown only here."""

    organization: OrganizationView
    """The new organization."""
    api_key: str
    """The organization's API key (`Authorization: Bearer ...`); GCC keeps only its hash."""
    webhook_secret: str
    """The secret webhooks are signed with (Standard Webhooks `whsec_...`)."""


class OrganizationList(ContractModel):
    """Answer to `GET /api/operator/organizations`."""

    organizations: list[OrganizationView]
    """The active organizations matching the filters, by name."""
    total: int
    """How many there are."""


class SecretRotated(ContractModel):
    """Answer to `POST /api/operator/organizations/{name}/rotate-secret`."""

    webhook_secret: str
    """The new webhook secret, shown only here."""
    previous_secret_expires_at: Timestamp
    """Until then webhooks carry a signature with the previous secret as well."""


class FleetVersionCount(ContractModel):
    """How many organizations run one version."""

    version: Version | None = None
    """The version; null for organizations that never reported one."""
    count: int
    """How many active organizations run it."""


class FleetSummary(ContractModel):
    """Answer to `GET /api/operator/fleet`."""

    total: int
    """Active organizations."""
    health: dict[HealthStatus, int]
    """Organizations per health state; every state is present, zero included."""
    versions: list[FleetVersionCount]
    """Organizations per current version, newest version first, unknown last."""


class VersionHistoryEntry(ContractModel):
    """One deployment or rollback an organization reported."""

    release_version: Version
    """The version that ran afterwards."""
    status: str
    """What the organization reported: `success` or `rolledBack`."""
    helm_revision: int | None = None
    """The Helm revision it produced (kubernetes)."""
    app_version: str | None = None
    """The application version the agent reported running afterwards."""
    is_rollback: bool = False
    """It was an admin's rollback."""
    deployed_at: Timestamp
    """When it finished."""


class VersionHistoryList(ContractModel):
    """Answer to `GET /api/operator/organizations/{name}/versions`, newest first."""

    versions: list[VersionHistoryEntry] = Field(default_factory=list)
    """The organization's deployments and rollbacks."""
