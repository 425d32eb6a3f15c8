"""Async object storage with one interface and two backends.

:class:`S3ObjectStore` talks to any S3-compatible service (AWS S3, MinIO, GCS interoperability)
through aioboto3; :class:`FilesystemObjectStore` keeps objects in a local directory for the
embedded local stack. Both stream in bounded memory, compute SHA256 while transferring, and
never leave a half-written object or download behind::

    async with S3ObjectStore("artifacts", endpoint_url="http://127.0.0.1:9000") as store:
        info = await store.put_file("releases/app/1.2.0.tgz", "dist/app-1.2.0.tgz")
        url = await store.presigned_get_url(info.key, expires_in=900)
        await store.keep_latest("releases/app/", 20, protect={info.key})
"""

from objectstore.errors import InvalidKey, ObjectNotFound, ObjectStoreError
from objectstore.factory import PROVIDERS, Provider, build_object_store
from objectstore.filesystem import FilesystemObjectStore
from objectstore.interface import DEFAULT_CHUNK_SIZE, LocalPath, ObjectStore
from objectstore.keys import validate_key, validate_prefix
from objectstore.models import DownloadResult, ObjectInfo
from objectstore.retention import newest_first, select_expired
from objectstore.s3 import S3Credentials, S3ObjectStore
from objectstore.s3_multipart import DEFAULT_MULTIPART_THRESHOLD, DEFAULT_PART_SIZE, MIN_PART_SIZE

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "DEFAULT_MULTIPART_THRESHOLD",
    "DEFAULT_PART_SIZE",
    "MIN_PART_SIZE",
    "PROVIDERS",
    "DownloadResult",
    "FilesystemObjectStore",
    "InvalidKey",
    "LocalPath",
    "ObjectInfo",
    "ObjectNotFound",
    "ObjectStore",
    "ObjectStoreError",
    "Provider",
    "S3Credentials",
    "S3ObjectStore",
    "build_object_store",
    "newest_first",
    "select_expired",
    "validate_key",
    "validate_prefix",
]
