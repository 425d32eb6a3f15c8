"""The updates poll: what a customer backend that missed webhooks asks GCC for (releases
published to it, and releases withdrawn after it was notified of them)."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import UpdatesPollResponse
from gcc.artifacts import service as artifact_service
from gcc.organizations import service as organization_service
from gcc.organizations.models import Organization
from gcc.releases import manifests, repository, views
from gcc.releases.manifests import ManifestSigner
from gcc.releases.webhook_body import build_withdrawn_body
from timekeeping import Clock


async def pending_updates(
    session: AsyncSession,
    *,
    clock: Clock,
    organization: Organization,
    heartbeat_enabled: bool | None = None,
    signer: ManifestSigner | None = None,
) -> UpdatesPollResponse:
    """The webhook bodies of the published releases the organization has not taken up yet.

    The poll also carries whether the backend sends heartbeats (``heartbeat_enabled``; None
    leaves it as it was), which the organization records. Each body carries its release's
    manifest, signed afresh by ``signer`` when needed.
    """
    if heartbeat_enabled is not None:
        await organization_service.record_heartbeat_enabled(
            session, organization=organization, enabled=heartbeat_enabled, now=clock.now()
        )
    releases = await repository.releases_awaiting(session, organization.id)
    digests = await artifact_service.digests(session, (release.version for release in releases))
    now = clock.now()
    signed = {
        release.id: manifests.current_manifest(release, signer=signer, now=now)
        for release in releases
    }
    poll = views.updates_view(releases, digests, signed)
    withdrawn = await repository.withdrawn_awaiting(session, organization.id)
    poll.withdrawn = [
        body for body in (build_withdrawn_body(release) for release in withdrawn) if body
    ]
    return poll
