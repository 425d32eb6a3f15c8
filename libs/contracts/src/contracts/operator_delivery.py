"""Operator actions on webhook delivery at GCC.

`POST /api/operator/releases/{version}/redeliver` sends a published release's webhook again to
the organizations where delivery ended in `webhookFailed` (after the customer fixed its
endpoint or its secret), each with a fresh allowance of attempts and its original
`webhook-id`.
"""

from __future__ import annotations

from pydantic import Field

from contracts.base import ContractModel
from contracts.primitives import OrganizationName
from contracts.versions import Version

__all__ = ["RedeliveryResponse"]


class RedeliveryResponse(ContractModel):
    """Answer to `POST /api/operator/releases/{version}/redeliver`."""

    version: Version
    """The release whose webhooks go out again."""
    organizations: list[OrganizationName] = Field(default_factory=list)
    """The organizations whose failed delivery was queued again, by name (empty when there
    was none)."""
