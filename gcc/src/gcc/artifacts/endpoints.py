"""Artifact routes: CI uploads (`/api/internal/artifacts`) and customer downloads."""

from __future__ import annotations

from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import StreamingResponse

from contracts import ArtifactType, ArtifactUploadResponse, ErrorResponse
from gcc.artifacts import service
from gcc.artifacts.upload import FORM_OVERHEAD_BYTES, receive_form
from gcc.deps import (
    CiCaller,
    ClockDep,
    CustomerDep,
    ReleaseStatusDep,
    RuntimeDep,
    SessionDep,
    SettingsDep,
)
from servicekit.bodies import limited_body_chunks

log = structlog.get_logger(__name__)

router = APIRouter(tags=["artifacts"])

FILE_FIELD = "file"

_UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file", "type", "version"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "The Helm chart (.tgz) or Compose bundle (.tar.gz).",
                        },
                        "type": {"type": "string", "enum": ["helm", "compose"]},
                        "version": {"type": "string", "examples": ["2.3.0"]},
                    },
                }
            }
        },
    }
}

_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse} for code in (401, 404, 409, 410, 413, 422)
}


@router.post(
    "/api/internal/artifacts",
    response_model=ArtifactUploadResponse,
    openapi_extra=_UPLOAD_BODY,
    responses=_ERRORS,
    summary="Upload a Helm chart or Compose bundle (CI)",
)
async def upload_artifact(
    request: Request,
    _caller: CiCaller,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    runtime: RuntimeDep,
    release_status: ReleaseStatusDep,
) -> ArtifactUploadResponse:
    """Stream the multipart upload to the bucket, checking its size, digest and content."""
    async with receive_form(
        limited_body_chunks(
            request,
            limit=settings.max_artifact_bytes + FORM_OVERHEAD_BYTES,
            detail="The upload is too large: "
            f"the file may have at most {settings.max_artifact_bytes} bytes.",
            field=FILE_FIELD,
        ),
        content_type=request.headers.get("content-type"),
        file_field=FILE_FIELD,
        max_file_bytes=settings.max_artifact_bytes,
    ) as form:
        artifact = await service.store_uploaded_artifact(
            session,
            clock=clock,
            settings=settings,
            object_store=runtime.object_store,
            form=form,
            release_status=release_status,
        )
    return service.upload_response(artifact)


@router.get(
    "/api/artifacts/charts/{version}",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"application/gzip": {"schema": {"type": "string", "format": "binary"}}},
            "description": "The artifact's bytes; `X-Sha256` carries their SHA256.",
        },
        **_ERRORS,
    },
    summary="Download a release artifact (customer)",
)
async def download_artifact(
    version: Annotated[str, Path(max_length=128)],
    organization: CustomerDep,
    session: SessionDep,
    runtime: RuntimeDep,
    release_status: ReleaseStatusDep,
    artifact_type: Annotated[ArtifactType, Query(alias="type")] = ArtifactType.HELM,
) -> StreamingResponse:
    """Stream a published release's Helm chart or Compose bundle from the bucket."""
    download = await service.find_download(
        session,
        object_store=runtime.object_store,
        version_text=version,
        artifact_type=artifact_type,
        release_status=release_status,
    )
    log.info(
        "artifact.download.started",
        organization=organization.name,
        key=download.key,
    )
    return StreamingResponse(
        runtime.object_store.iter_chunks(download.key),
        media_type="application/gzip",
        headers={
            "X-Sha256": download.sha256,
            "Content-Length": str(download.size_bytes),
            "Content-Disposition": f'attachment; filename="{download.filename}"',
        },
    )
