"""Who a published release goes to: the organizations, the gates, the target rows.

Publishing to ten thousand organizations must stay well under a few seconds, so organizations
are read as plain column tuples, the gates run in Python (semantic-version precedence is not a
SQL comparison), and the targets are inserted in bulk.

The gates (:func:`gate_hold`) are shared with :mod:`gcc.releases.gate_recheck`, which delivers
a held-back release once its gate clears.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import (
    ArtifactType,
    DeploymentType,
    EscalationType,
    InvalidVersionError,
    Version,
)
from gcc.escalations.service import raise_escalation
from gcc.organizations import service as organization_service
from gcc.organizations.repository import Candidate
from gcc.releases.models import Release
from servicekit.errors import InvalidInput
from timekeeping import Clock

log = structlog.get_logger(__name__)


@dataclass
class FanOut:
    """The organizations to target and how many each gate held back."""

    organization_ids: list[uuid.UUID] = field(default_factory=list)
    rings: dict[uuid.UUID, str] = field(default_factory=dict)
    """The ring of each organization targeted."""
    license_expired: int = 0
    below_min_version: int = 0
    without_artifact: int = 0

    def counts(self) -> dict[str, int]:
        """How many organizations were reached and held back, by reason."""
        return {
            "targets": len(self.organization_ids),
            "licenseExpired": self.license_expired,
            "belowMinVersion": self.below_min_version,
            "withoutArtifact": self.without_artifact,
        }


@dataclass(frozen=True)
class Hold:
    """Why a gate holds a release back from an organization: the escalation it raises."""

    escalation_type: EscalationType
    reason: str
    details: dict[str, Any]


class VersionCache:
    """Parses each distinct version text once (most of a fleet runs a handful of versions)."""

    def __init__(self) -> None:
        self._parsed: dict[str, Version | None] = {}

    def get(self, text: str | None) -> Version | None:
        """The parsed version; None for no text or text that is not a version."""
        if not text:
            return None
        if text not in self._parsed:
            try:
                self._parsed[text] = Version.parse(text)
            except InvalidVersionError:
                self._parsed[text] = None
        return self._parsed[text]


def artifact_for(candidate: Candidate) -> ArtifactType | None:
    """The artifact type the organization's deployment type installs from."""
    try:
        return DeploymentType(candidate.deployment_type).artifact_type
    except ValueError:
        return None


def minimum_version(release: Release) -> Version | None:
    """The release's ``minCurrentVersion``, parsed."""
    return Version.parse(release.min_current_version) if release.min_current_version else None


def gate_hold(
    release: Release,
    candidate: Candidate,
    *,
    minimum: Version | None,
    versions: VersionCache,
    now: datetime,
) -> Hold | None:
    """The gate that holds ``release`` back from the organization, or None when it may go.

    The license gate comes first: an organization whose license expired before ``now`` is
    held back. Then the version gate: one that runs a version below ``minimum`` is held back
    (an organization that has reported no version, or an unreadable one, is not).
    """
    expires_at = candidate.license_expires_at
    if expires_at is not None and expires_at < now:
        return Hold(
            EscalationType.LICENSE_EXPIRED,
            reason=(
                f"Release {release.version} was not sent to {candidate.name}: its license "
                f"expired on {expires_at.isoformat()}."
            ),
            details={"version": release.version, "licenseExpiresAt": expires_at.isoformat()},
        )
    current = versions.get(candidate.current_version)
    if candidate.current_version and current is None:
        log.warning(
            "release.publish.unreadable_version",
            organization=candidate.name,
            current_version=candidate.current_version,
        )
    if minimum is not None and current is not None and current < minimum:
        return Hold(
            EscalationType.MIN_VERSION_BLOCKED,
            reason=(
                f"Release {release.version} was not sent to {candidate.name}: it runs "
                f"{current}, below the required minimum {minimum}."
            ),
            details={
                "version": release.version,
                "currentVersion": str(current),
                "minCurrentVersion": str(minimum),
            },
        )
    return None


async def raise_hold(
    session: AsyncSession, *, clock: Clock, release: Release, candidate: Candidate, hold: Hold
) -> bool:
    """Raise the escalation of ``hold`` (once per type, organization and release); True when
    it is new."""
    return await raise_escalation(
        session,
        clock=clock,
        escalation_type=hold.escalation_type,
        organization_id=candidate.id,
        release_id=release.id,
        release_version=release.version,
        reason=hold.reason,
        details=hold.details,
    )


def _check_named_targets(
    release: Release, candidates: list[Candidate], available: set[ArtifactType]
) -> None:
    names = release.target_organizations
    if names is None:
        return
    found = {candidate.name for candidate in candidates}
    unknown = sorted(set(names) - found)
    if unknown:
        raise InvalidInput(
            f"targets: no active organization is named {', '.join(unknown)}", field="targets"
        )
    unserved = sorted(
        candidate.name for candidate in candidates if artifact_for(candidate) not in available
    )
    if unserved:
        raise InvalidInput(
            f"targets: the release has no artifact for the deployment type of "
            f"{', '.join(unserved)} (docker needs the Compose bundle)",
            field="targets",
        )


async def plan_fan_out(
    session: AsyncSession,
    *,
    clock: Clock,
    release: Release,
    available: set[ArtifactType],
    now: datetime,
    raise_holds: bool = True,
) -> FanOut:
    """Decide each organization's fate and raise the escalations of those held back
    (``raise_holds=False``: only count them, for the console's confirmation).

    An organization is targeted when its deployment type has an artifact in the release and
    no gate holds the release back (see :func:`gate_hold`).
    """
    candidates = await organization_service.publish_candidates(
        session, release.target_organizations
    )
    _check_named_targets(release, candidates, available)
    minimum = minimum_version(release)
    versions = VersionCache()
    fan_out = FanOut()
    for candidate in candidates:
        if artifact_for(candidate) not in available:
            fan_out.without_artifact += 1
            continue
        hold = gate_hold(release, candidate, minimum=minimum, versions=versions, now=now)
        if hold is None:
            fan_out.organization_ids.append(candidate.id)
            fan_out.rings[candidate.id] = candidate.ring
            continue
        if hold.escalation_type is EscalationType.LICENSE_EXPIRED:
            fan_out.license_expired += 1
        else:
            fan_out.below_min_version += 1
        if raise_holds:
            await raise_hold(session, clock=clock, release=release, candidate=candidate, hold=hold)
    return fan_out
