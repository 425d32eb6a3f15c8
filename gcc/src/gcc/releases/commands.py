"""Operator commands: gcc release list|show|publish|deprecate|export.

Each command runs the same service function as the HTTP API, in one transaction on the
configured database; publishing enqueues webhook delivery on the configured broker.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import TypeVar

import typer
from pydantic import ValidationError
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import AdvanceWhen, OperatorReleaseList, RolloutPlan, TargetDeliveryView
from gcc.audit.service import Actor
from gcc.command_runtime import run_with_runtime
from gcc.releases import service
from gcc.releases.export import export_release
from gcc.runtime import Runtime
from servicekit.errors import InvalidInput
from servicekit.failures import command_group
from servicekit.output import Column, minute, print_json, print_page_footer, print_table

T = TypeVar("T")

releases_app = command_group(
    "Releases: list, show, publish, deprecate, redeliver, export an offline bundle."
)


def _run(work: Callable[[AsyncSession, Runtime], Awaitable[T]]) -> T:
    return run_with_runtime(work)


def _when(moment: datetime | None) -> str:
    return moment.isoformat(timespec="seconds") if moment else "-"


RELEASE_COLUMNS = [
    Column("VERSION", 20),
    Column("STATUS", 10),
    Column("FORCED", 6),
    Column("PUBLISHED (UTC)", 16),
    Column("TARGETS", 7),
    Column("ACKED", 7),
    Column("FAILED", 7),
]


@releases_app.command("list")
def list_releases(
    limit: int = typer.Option(50, min=1, max=5000, help="At most this many."),
    offset: int = typer.Option(0, min=0, help="Skip this many (the next page)."),
    json_output: bool = typer.Option(
        False, "--json", help="JSON, as GET /api/operator/releases answers (every release)."
    ),
) -> None:
    """Releases, newest first, with their status and how their targets stand, a page at a time."""

    async def work(session: AsyncSession, _: Runtime) -> OperatorReleaseList:
        return await service.list_releases(session)

    listing = _run(work)
    if json_output:
        print_json(listing)
        return
    page = listing.releases[offset : offset + limit]
    print_table(
        RELEASE_COLUMNS,
        [
            (
                release.version,
                release.status,
                release.is_forced,
                minute(release.published_at),
                release.targets.total,
                release.targets.acknowledged,
                release.targets.webhook_failed,
            )
            for release in page
        ],
    )
    print_page_footer(shown=len(page), offset=offset, total=len(listing.releases), noun="releases")


@releases_app.command()
def show(
    version: str = typer.Argument(..., help="The release's version."),
    json_output: bool = typer.Option(False, "--json", help="The API's JSON answer."),
) -> None:
    """One release: its artifacts and every target's delivery and deployment."""

    async def work(session: AsyncSession, _: Runtime) -> None:
        detail = await service.release_detail(session, version_text=version)
        if json_output:
            print_json(detail)
            return
        typer.echo(
            f"{detail.version} {detail.status}, published {_when(detail.published_at)}, "
            f"forced: {'yes' if detail.is_forced else 'no'}"
        )
        for artifact in detail.artifacts:
            typer.echo(
                f"  artifact {artifact.type}: {artifact.bucket_path} ({artifact.size_bytes} bytes)"
            )
        counts = detail.targets
        typer.echo(
            f"targets: {counts.total}, acknowledged {counts.acknowledged}, "
            f"webhook failed {counts.webhook_failed}"
        )
        print_table(
            TARGET_COLUMNS,
            [
                (
                    target.organization_name,
                    _delivery_state(target.delivery),
                    target.delivery.attempts,
                    target.deployment.status,
                    target.delivery.error or target.deployment.error_message,
                )
                for target in detail.deployment_targets
            ],
        )

    _run(work)


TARGET_COLUMNS = [
    Column("ORGANIZATION", 28),
    Column("DELIVERY", 9),
    Column("TRIES", 5),
    Column("DEPLOYMENT", 16),
    Column("LAST ERROR", 32),
]


def _delivery_state(delivery: TargetDeliveryView) -> str:
    if delivery.acked:
        return "acked"
    if delivery.failed:
        return "failed"
    return "sent" if delivery.sent else "due"


def rollout_plan(
    waves: str,
    *,
    bake_minutes: int,
    success_threshold: float,
    failure_threshold: float,
    health_threshold: float,
    advance_when: AdvanceWhen,
) -> RolloutPlan:
    """The plan ``--waves`` describes: comma-separated waves, each ``+``-joined rings and/or
    a percentage (``canary,early+10%,25%,100%``), every wave with the same options."""
    raw_waves: list[dict[str, object]] = []
    for token in waves.split(","):
        rings: list[str] = []
        percent: int | None = None
        for part in token.strip().split("+"):
            if part.endswith("%") and part[:-1].isdigit():
                percent = int(part[:-1])
            elif part:
                rings.append(part)
        raw_waves.append(
            {
                "rings": rings,
                "percent": percent,
                "bakeMinutes": bake_minutes,
                "successThreshold": success_threshold,
                "failureThreshold": failure_threshold,
                "healthThreshold": health_threshold,
                "advanceWhen": advance_when,
            }
        )
    try:
        return RolloutPlan.model_validate({"waves": raw_waves})
    except ValidationError as error:
        problem = error.errors()[0]
        raise InvalidInput(f"waves: {waves!r}: {problem['msg']}", field="waves") from None


@releases_app.command()
def publish(
    version: str = typer.Argument(..., help="The draft release to publish."),
    waves: str | None = typer.Option(
        None,
        help="Roll out in waves: comma-separated rings and/or cumulative percentages, such "
        "as canary,early,25%,100%. Without it every organization is notified at once.",
    ),
    bake_minutes: int = typer.Option(60, min=0, help="Minutes each wave bakes."),
    success_threshold: float = typer.Option(
        1.0, min=0.0, max=1.0, help="Share of a wave that must deploy (--advance-when success)."
    ),
    failure_threshold: float = typer.Option(
        0.0, min=0.0, max=1.0, help="Halt when more than this share of deployments failed."
    ),
    health_threshold: float = typer.Option(
        0.0, min=0.0, max=1.0, help="Halt when more than this share turned unhealthy after."
    ),
    advance_when: AdvanceWhen = typer.Option(
        AdvanceWhen.BAKE, help="bake, success, or either: what opens the next wave."
    ),
) -> None:
    """Publish a draft release: send its webhook to every eligible organization, or to the
    first wave of ``--waves``."""

    async def work(session: AsyncSession, runtime: Runtime) -> None:
        plan = (
            None
            if waves is None
            else rollout_plan(
                waves,
                bake_minutes=bake_minutes,
                success_threshold=success_threshold,
                failure_threshold=failure_threshold,
                health_threshold=health_threshold,
                advance_when=advance_when,
            )
        )
        view = await service.publish_release(
            session,
            clock=runtime.clock,
            actor=Actor.command_line(),
            version_text=version,
            send_task=runtime.send_task,
            signer=runtime.manifest_signer,
            forced_deadline=runtime.settings.forced_deadline,
            plan=plan,
            rings=runtime.settings.rollout_rings,
        )
        typer.echo(
            f"published {view.version}: {view.targets} organizations targeted, "
            f"{view.license_expired} with an expired license, "
            f"{view.below_min_version} below the minimum version, "
            f"{view.without_artifact} without an artifact for their deployment type"
        )
        if plan is not None:
            typer.echo(f"rolling out in {len(plan.waves)} waves; the first is notified now")

    _run(work)


@releases_app.command()
def deprecate(version: str = typer.Argument(..., help="The published release.")) -> None:
    """Deprecate a published release: the updates poll stops offering it."""

    async def work(session: AsyncSession, runtime: Runtime) -> None:
        release = await service.deprecate_release(
            session, clock=runtime.clock, actor=Actor.command_line(), version_text=version
        )
        typer.echo(f"deprecated {release.version}")

    _run(work)


@releases_app.command("export")
def export(
    version: str = typer.Argument(..., help="The published release."),
    org: str = typer.Option(..., "--org", help="The only organization the bundle is for."),
    output: Path = typer.Option(
        ..., "--output", "-o", help="The bundle file to write (a tar), replaced if it exists."
    ),
) -> None:
    """Write an offline bundle of a published release for one organization: its manifest,
    signed for that organization, its artifacts and a plain-text summary."""

    async def work(session: AsyncSession, runtime: Runtime) -> None:
        bundle = await export_release(
            session,
            clock=runtime.clock,
            signer=runtime.manifest_signer,
            object_store=runtime.object_store,
            version_text=version,
            organization_name=org,
            output=output,
        )
        typer.echo(bundle.summary, nl=False)
        typer.echo(f"\nwrote {bundle.path} ({bundle.size_bytes} bytes)")

    _run(work)
