"""The artifacts page: what retention keeps per type, and which releases use each."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from gcc.artifacts import service as artifact_service
from gcc.console.web import PREFIX, ConsoleViewer, render
from gcc.deps import SessionDep, SettingsDep
from gcc.releases import service as release_service

router = APIRouter(prefix=PREFIX, include_in_schema=False)


@router.get("/artifacts")
async def artifacts_page(
    request: Request, user: ConsoleViewer, session: SessionDep, settings: SettingsDep
) -> Response:
    """The retained artifacts per type with size, SHA256, upload time and release."""
    kept = await artifact_service.retained_artifacts(session)
    versions = {artifact.version for artifacts in kept.values() for artifact in artifacts}
    statuses = await release_service.statuses_of_versions(session, versions)
    return render(
        request,
        "artifacts.html",
        {"kept": kept, "statuses": statuses, "retention": settings.artifact_retention},
        user=user,
        current="artifacts",
    )
