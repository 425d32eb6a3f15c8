"""Artifact routes: CI uploads (`/api/internal/artifacts`) and customer downloads."""

from __future__ import annotations

from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from contracts import (
    MANIFEST_HEADER,
    MAX_VERSION_LENGTH,
    VERSION_PATTERN,
    ArtifactType,
    ArtifactUploadResponse,
)
from gcc.artifacts import service
from gcc.artifacts.upload import FORM_OVERHEAD_BYTES, receive_form
from gcc.deps import (
    CiCaller,
    ClockDep,
    CustomerDep,
    CustomerReleaseStatusDep,
    ManifestLookupDep,
    ReleaseStatusDep,
    RuntimeDep,
    SessionDep,
    SettingsDep,
    VersionPath,
)
from servicekit.bodies import limited_body_chunks
from servicekit.openapi import error_responses
from signing import encode_header

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
                    # each field once; any other is ignored, so none is offered
                    "additionalProperties": False,
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "The Helm chart (.tgz) or Compose bundle (.tar.gz).",
                        },
                        "type": {"type": "string", "enum": ["helm", "compose"]},
                        "version": {
                            "type": "string",
                            "pattern": VERSION_PATTERN,
                            "maxLength": MAX_VERSION_LENGTH,
                            "examples": ["2.3.0"],
                        },
                    },
                }
            }
        },
    }
}


@router.post(
    "/api/internal/artifacts",
    response_model=ArtifactUploadResponse,
    openapi_extra=_UPLOAD_BODY,
    responses=error_responses(409, 413),
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
            "description": "The artifact's bytes; `X-Sha256` carries their SHA256 and "
            f"`{MANIFEST_HEADER}` the release's signed manifest (JSON in unpadded URL-safe "
            "base64), absent for a release published unsigned.",
        },
        **error_responses(404, 410),
    },
    summary="Download a release artifact (customer)",
)
async def download_artifact(
    version: VersionPath,
    organization: CustomerDep,
    session: SessionDep,
    runtime: RuntimeDep,
    release_status: CustomerReleaseStatusDep,
    manifest_lookup: ManifestLookupDep,
    artifact_type: Annotated[ArtifactType, Query(alias="type")] = ArtifactType.HELM,
) -> StreamingResponse:
    """Stream a published release's Helm chart or Compose bundle from the bucket; a release
    that names its targets only to those organizations (404 to every other)."""
    download = await service.find_download(
        session,
        object_store=runtime.object_store,
        version_text=version,
        artifact_type=artifact_type,
        release_status=release_status,
    )
    manifest = await manifest_lookup(session, version=download.version)
    log.info(
        "artifact.download.started",
        organization_id=str(organization.id),
        organization=organization.name,
        version=download.version,
        key=download.key,
        is_signed=manifest is not None,
    )
    headers = {
        "X-Sha256": download.sha256,
        "Content-Length": str(download.size_bytes),
        "Content-Disposition": f'attachment; filename="{download.filename}"',
    }
    if manifest is not None:
        headers[MANIFEST_HEADER] = encode_header(manifest)
    return StreamingResponse(
        runtime.object_store.iter_chunks(download.key),
        media_type="application/gzip",
        headers=headers,
    )
