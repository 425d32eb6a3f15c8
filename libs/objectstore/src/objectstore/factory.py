"""Build the store a service's settings ask for."""

from __future__ import annotations

from typing import Literal, get_args

from objectstore.filesystem import FilesystemObjectStore
from objectstore.interface import LocalPath, ObjectStore
from objectstore.s3 import S3Credentials, S3ObjectStore
from objectstore.s3_multipart import DEFAULT_MULTIPART_THRESHOLD, DEFAULT_PART_SIZE

Provider = Literal["s3", "minio", "gcs", "filesystem"]
PROVIDERS: tuple[str, ...] = get_args(Provider)
GCS_INTEROPERABILITY_ENDPOINT = "https://storage.googleapis.com"


def build_object_store(
    provider: str,
    *,
    bucket: str | None = None,
    endpoint_url: str | None = None,
    region: str | None = None,
    root: LocalPath | None = None,
    credentials: S3Credentials | None = None,
    multipart_threshold: int = DEFAULT_MULTIPART_THRESHOLD,
    part_size: int = DEFAULT_PART_SIZE,
    max_attempts: int = 5,
) -> ObjectStore:
    """Build the object store for ``provider``, not yet open.

    ``s3``, ``minio`` and ``gcs`` speak the S3 API to ``bucket``; ``filesystem`` keeps objects
    under ``root``. ``s3`` without ``endpoint_url`` is AWS; ``minio`` needs ``endpoint_url``;
    ``gcs`` defaults to Google's interoperability endpoint and needs HMAC keys as
    ``credentials`` (or in the ``AWS_*`` variables). ``max_attempts`` is how many times each
    S3 request is tried, the first included, before its error is raised. Raises
    ``ValueError`` for an unknown provider or a missing setting.
    """
    if provider == "filesystem":
        if root is None:
            raise ValueError("the filesystem object store needs a root directory")
        return FilesystemObjectStore(root)
    if provider not in PROVIDERS:
        raise ValueError(f"unknown object store provider {provider!r}; expected one of {PROVIDERS}")
    if not bucket:
        raise ValueError(f"the {provider} object store needs a bucket name")
    if provider == "minio" and not endpoint_url:
        raise ValueError("the minio object store needs an endpoint URL")
    if provider == "gcs" and not endpoint_url:
        endpoint_url = GCS_INTEROPERABILITY_ENDPOINT
    return S3ObjectStore(
        bucket,
        endpoint_url=endpoint_url,
        region=region,
        credentials=credentials,
        multipart_threshold=multipart_threshold,
        part_size=part_size,
        max_attempts=max_attempts,
    )
