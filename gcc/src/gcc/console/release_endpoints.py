"""Release pages: the list, one release's fan-out live, publish and deprecate."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from contracts import ReleaseStatus
from gcc.artifacts import service as artifact_service
from gcc.console.chart import Bar, share_bar
from gcc.console.web import PREFIX, ConsoleActor, ConsoleViewer, render, see_other
from gcc.deps import ClockDep, RuntimeDep, SessionDep, VersionPath
from gcc.releases import progress, service
from gcc.releases.progress import DeliveryProgress

router = APIRouter(prefix=PREFIX, include_in_schema=False)

STATUS_ORDER = (ReleaseStatus.DRAFT, ReleaseStatus.PUBLISHED, ReleaseStatus.DEPRECATED)


def progress_bar(shown: DeliveryProgress) -> object:
    """The fan-out as one bar: acknowledged, retrying, waiting, failed, held back."""
    counts = shown.counts
    return share_bar(
        [
            Bar("acknowledged", counts.acknowledged, "part-acked"),
            Bar("retrying", counts.retrying, "part-retrying"),
            Bar("waiting", counts.pending, "part-pending"),
            Bar("failed", counts.failed, "part-failed"),
            Bar("held back by a gate", counts.withheld, "part-withheld"),
        ],
        title=f"Delivery of {shown.version}",
        chart_id="delivery",
    )


@router.get("/releases")
async def releases_page(request: Request, user: ConsoleViewer, session: SessionDep) -> Response:
    """Drafts, published and deprecated releases, newest first in each."""
    listed = (await service.list_releases(session)).releases
    groups = [
        (status, [release for release in listed if release.status == status])
        for status in STATUS_ORDER
    ]
    return render(request, "releases.html", {"groups": groups}, user=user, current="releases")


@router.get("/releases/{version}")
async def release_page(
    request: Request, user: ConsoleViewer, session: SessionDep, version: VersionPath
) -> Response:
    """One release: what it is, its artifacts, its fan-out (live) and what customers did."""
    release = await service.get_release(session, version_text=version)
    shown = await progress.delivery_progress(session, version_text=version)
    return render(
        request,
        "release.html",
        {
            "release": release,
            "artifacts": await artifact_service.artifacts_of_version(session, release.version),
            "progress": shown,
            "bar": progress_bar(shown),
            "troubled": await progress.troubled_deliveries(session, release_id=release.id),
        },
        user=user,
        current="releases",
    )


@router.get("/releases/{version}/progress")
async def release_progress(
    request: Request, user: ConsoleViewer, session: SessionDep, version: VersionPath
) -> Response:
    """The fan-out section alone, which the release page fetches again while it runs."""
    release = await service.get_release(session, version_text=version)
    shown = await progress.delivery_progress(session, version_text=version)
    return render(
        request,
        "release_progress.html",
        {
            "release": release,
            "progress": shown,
            "bar": progress_bar(shown),
            "troubled": await progress.troubled_deliveries(session, release_id=release.id),
        },
        user=user,
    )


@router.get("/releases/{version}/publish")
async def publish_confirmation(
    request: Request, user: ConsoleActor, session: SessionDep, clock: ClockDep, version: VersionPath
) -> Response:
    """What publishing would do now, and the button that does it."""
    release = await service.get_release(session, version_text=version)
    preview = await progress.publish_preview(session, clock=clock, version_text=version)
    return render(
        request,
        "publish.html",
        {"release": release, "preview": preview},
        user=user,
        current="releases",
    )


@router.post("/releases/{version}/publish")
async def publish(
    user: ConsoleActor,
    session: SessionDep,
    clock: ClockDep,
    runtime: RuntimeDep,
    version: VersionPath,
) -> Response:
    """Publish the draft as the signed-in operator."""
    published = await service.publish_release(
        session,
        clock=clock,
        actor=user.actor,
        version_text=version,
        send_task=runtime.send_task,
        signer=runtime.manifest_signer,
        forced_deadline=runtime.settings.forced_deadline,
    )
    return see_other(
        f"/releases/{version}",
        done=f"Published {version}: sending it to {published.targets} organizations.",
    )


@router.post("/releases/{version}/deprecate")
async def deprecate(
    user: ConsoleActor, session: SessionDep, clock: ClockDep, version: VersionPath
) -> Response:
    """Deprecate the published release as the signed-in operator."""
    await service.deprecate_release(session, clock=clock, actor=user.actor, version_text=version)
    return see_other(
        f"/releases/{version}",
        done=f"Deprecated {version}: the updates poll no longer offers it.",
    )
