"""An object store on any S3-compatible endpoint (AWS S3, MinIO, GCS interoperability)."""

from __future__ import annotations

import asyncio
import builtins
import hashlib
import io
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, Literal

import aioboto3
from aiobotocore.config import AioConfig
from botocore.exceptions import ClientError

from objectstore.atomic import AtomicFileWriter
from objectstore.errors import ObjectStoreError
from objectstore.interface import DEFAULT_CHUNK_SIZE, LocalPath, ObjectStore
from objectstore.keys import validate_key, validate_prefix
from objectstore.models import DownloadResult, ObjectInfo
from objectstore.s3_errors import (
    BUCKET_EXISTS_CODES,
    MISSING_BUCKET_CODES,
    NOT_FOUND_CODES,
    TRANSPORT_ERRORS,
    error_code,
    etag_of,
    s3_errors,
    store_error,
)
from objectstore.s3_multipart import (
    DEFAULT_MULTIPART_THRESHOLD,
    DEFAULT_PART_SIZE,
    MAX_PART_SIZE,
    MAX_SINGLE_PUT_SIZE,
    MIN_PART_SIZE,
    MultipartUpload,
    abort_shielded,
)

MAX_PRESIGNED_EXPIRY_SECONDS = 7 * 24 * 3600
"""SigV4 presigned URLs live at most seven days."""

AddressingStyle = Literal["auto", "path", "virtual"]


@dataclass(frozen=True)
class S3Credentials:
    """An access key pair, with the session token of temporary credentials."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)


class S3ObjectStore(ObjectStore):
    """Objects in one bucket of an S3-compatible service, through one aioboto3 client.

    The client is made by :meth:`open` (or ``async with``) and reused by every call until
    :meth:`close`, so build the store once per process. Without ``credentials`` botocore's usual
    chain applies (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY`` and friends, profiles, instance
    roles).

    Streams up to ``multipart_threshold`` bytes are sent with one PUT; longer ones as a multipart
    upload of ``part_size`` parts, sent one after the other, so an upload holds about
    ``max(multipart_threshold, part_size)`` bytes in memory. An object may have at most 10,000
    parts (80 GiB at the default part size). :meth:`list` asks for ``list_page_size`` keys per
    request and follows continuation tokens to the end.

    With a custom ``endpoint_url`` path-style addressing is used unless ``addressing_style``
    says otherwise, which is what MinIO and most other S3-compatible services expect. Request
    checksums are only sent where S3 requires them, since several S3-compatible services reject
    the newer default ones. ``head`` and ``list`` report no SHA256 (only uploads compute it);
    ``etag`` is the S3 ETag without quotes.
    """

    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        credentials: S3Credentials | None = None,
        multipart_threshold: int = DEFAULT_MULTIPART_THRESHOLD,
        part_size: int = DEFAULT_PART_SIZE,
        addressing_style: AddressingStyle | None = None,
        max_attempts: int = 5,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        max_pool_connections: int = 10,
        list_page_size: int = 1000,
    ) -> None:
        """Configure the store; nothing connects until :meth:`open`."""
        if not bucket:
            raise ValueError("bucket must not be empty")
        if not MIN_PART_SIZE <= part_size <= MAX_PART_SIZE:
            raise ValueError(f"part_size must be between {MIN_PART_SIZE} and {MAX_PART_SIZE}")
        if not 0 <= multipart_threshold <= MAX_SINGLE_PUT_SIZE:
            raise ValueError(f"multipart_threshold must be between 0 and {MAX_SINGLE_PUT_SIZE}")
        if not 1 <= list_page_size <= 1000:
            raise ValueError("list_page_size must be between 1 and 1000")
        self.bucket = bucket
        self.endpoint_url = endpoint_url
        self.region = region
        self.multipart_threshold = multipart_threshold
        self.part_size = part_size
        self.list_page_size = list_page_size
        self._credentials = credentials
        self._config = AioConfig(
            region_name=region,
            signature_version="s3v4",
            s3={"addressing_style": addressing_style or ("path" if endpoint_url else "auto")},
            retries={"max_attempts": max_attempts, "mode": "standard"},
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            max_pool_connections=max_pool_connections,
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        self._exit_stack: AsyncExitStack | None = None
        self._s3: Any = None
        # Aborts of failed multipart uploads that must outlive a cancelled caller.
        self._background_aborts: set[asyncio.Task[None]] = set()

    def __repr__(self) -> str:
        """The bucket and endpoint, never credentials."""
        return f"S3ObjectStore(bucket={self.bucket!r}, endpoint_url={self.endpoint_url!r})"

    async def open(self) -> None:
        """Create the aioboto3 session and S3 client; a second call does nothing."""
        if self._exit_stack is not None:
            return
        credentials = self._credentials
        session = aioboto3.Session(
            aws_access_key_id=credentials.access_key_id if credentials else None,
            aws_secret_access_key=credentials.secret_access_key if credentials else None,
            aws_session_token=credentials.session_token if credentials else None,
            region_name=self.region,
        )
        stack = AsyncExitStack()
        self._s3 = await stack.enter_async_context(
            session.client("s3", endpoint_url=self.endpoint_url, config=self._config)
        )
        self._exit_stack = stack

    async def close(self) -> None:
        """Wait for aborts of failed uploads still running, then close the client."""
        if self._background_aborts:
            await asyncio.gather(*self._background_aborts, return_exceptions=True)
        stack, self._exit_stack, self._s3 = self._exit_stack, None, None
        if stack is not None:
            await stack.aclose()

    @property
    def _client(self) -> Any:
        if self._s3 is None:
            raise ObjectStoreError("S3ObjectStore is not open: use 'async with' or call open()")
        return self._s3

    async def ensure_bucket(self) -> None:
        """Create the bucket when it does not exist (in ``region`` when one is set)."""
        try:
            await self._client.head_bucket(Bucket=self.bucket)
            return
        except ClientError as exc:
            if error_code(exc) not in MISSING_BUCKET_CODES:
                raise store_error("head bucket", self.bucket, exc) from exc
        except TRANSPORT_ERRORS as exc:
            raise store_error("head bucket", self.bucket, exc) from exc
        parameters: dict[str, Any] = {"Bucket": self.bucket}
        if self.region and self.region != "us-east-1":
            parameters["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        try:
            await self._client.create_bucket(**parameters)
        except ClientError as exc:
            if error_code(exc) not in BUCKET_EXISTS_CODES:
                raise store_error("create bucket", self.bucket, exc) from exc
        except TRANSPORT_ERRORS as exc:
            raise store_error("create bucket", self.bucket, exc) from exc

    async def put_file(
        self, key: str, path: LocalPath, *, content_type: str | None = None
    ) -> ObjectInfo:
        """Upload the local file at ``path``; see :meth:`ObjectStore.put_file`."""
        validate_key(key)
        source = await asyncio.to_thread(Path(path).open, "rb")
        try:
            return await self.put_stream(
                key, _read_file_chunks(source, DEFAULT_CHUNK_SIZE), content_type=content_type
            )
        finally:
            source.close()

    async def put_stream(
        self,
        key: str,
        chunks: AsyncIterator[bytes],
        *,
        content_type: str | None = None,
    ) -> ObjectInfo:
        """Upload ``chunks``; see :meth:`ObjectStore.put_stream`."""
        validate_key(key)
        extra: dict[str, Any] = {"ContentType": content_type} if content_type else {}
        digest = hashlib.sha256()
        size = 0
        # Parts wait in a BytesIO because aiohttp streams one to the socket in small writes,
        # while a bytes or bytearray body is copied whole on its way there (twice, measured).
        pending = io.BytesIO()
        upload: MultipartUpload | None = None
        try:
            async for chunk in chunks:
                if not chunk:
                    continue
                digest.update(chunk)
                size += len(chunk)
                if upload is None and pending.tell() + len(chunk) > self.multipart_threshold:
                    upload = await MultipartUpload.create(self._client, self.bucket, key, extra)
                if upload is None:
                    pending.write(chunk)
                else:
                    pending = await upload.send_full_parts(pending, chunk, self.part_size)
            if upload is None:
                etag = await self._put_object(key, pending, extra)
            else:
                if pending.tell():
                    await upload.send(pending)
                etag = await upload.complete()
        except BaseException as exc:
            if upload is not None:
                await abort_shielded(upload, exc, self._background_aborts)
            raise
        return await self._uploaded_info(key, size, digest.hexdigest(), etag)

    async def _put_object(self, key: str, body: io.BytesIO, extra: dict[str, Any]) -> str | None:
        body.seek(0)
        with s3_errors("put", key):
            response = await self._client.put_object(
                Bucket=self.bucket, Key=key, Body=body, **extra
            )
        return etag_of(response)

    async def _uploaded_info(
        self, key: str, size: int, sha256: str, etag: str | None
    ) -> ObjectInfo:
        stored = await self.head(key)
        last_modified = stored.last_modified if stored else datetime.now(UTC)
        content_type = stored.content_type if stored else None
        return ObjectInfo(
            key=key,
            size=size,
            last_modified=last_modified,
            sha256=sha256,
            etag=etag,
            content_type=content_type,
        )

    async def get_to_file(self, key: str, path: LocalPath) -> DownloadResult:
        """Download ``key`` into ``path``; see :meth:`ObjectStore.get_to_file`."""
        validate_key(key)
        destination = Path(path)
        with s3_errors("get", key):
            response = await self._client.get_object(Bucket=self.bucket, Key=key)
        body = response["Body"]
        async with body:
            writer = await asyncio.to_thread(AtomicFileWriter, destination)
            try:
                while block := await _read_block(body, key, DEFAULT_CHUNK_SIZE):
                    await asyncio.to_thread(writer.write, block)
                return await asyncio.to_thread(writer.commit)
            except BaseException:
                writer.discard()
                raise

    async def iter_chunks(
        self, key: str, chunk_size: int = DEFAULT_CHUNK_SIZE
    ) -> AsyncGenerator[bytes, None]:
        """Stream the object; see :meth:`ObjectStore.iter_chunks`."""
        if chunk_size <= 0:
            raise ValueError("chunk_size must be positive")
        validate_key(key)
        with s3_errors("get", key):
            response = await self._client.get_object(Bucket=self.bucket, Key=key)
        body = response["Body"]
        async with body:
            while block := await _read_block(body, key, chunk_size):
                yield block

    async def head(self, key: str) -> ObjectInfo | None:
        """The object's size, last-modified time, etag and content type, or ``None``."""
        validate_key(key)
        try:
            response = await self._client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if error_code(exc) in NOT_FOUND_CODES:
                return None
            raise store_error("head", key, exc) from exc
        except TRANSPORT_ERRORS as exc:
            raise store_error("head", key, exc) from exc
        return ObjectInfo(
            key=key,
            size=int(response["ContentLength"]),
            last_modified=_as_utc(response["LastModified"]),
            etag=etag_of(response),
            content_type=response.get("ContentType"),
        )

    async def list(self, prefix: str = "") -> builtins.list[ObjectInfo]:
        """Every object whose key starts with ``prefix``, sorted by key, across all pages."""
        validate_prefix(prefix)
        found: builtins.list[ObjectInfo] = []
        paginator = self._client.get_paginator("list_objects_v2")
        with s3_errors("list", prefix):
            pages = paginator.paginate(
                Bucket=self.bucket,
                Prefix=prefix,
                PaginationConfig={"PageSize": self.list_page_size},
            )
            async for page in pages:
                found.extend(
                    ObjectInfo(
                        key=item["Key"],
                        size=int(item["Size"]),
                        last_modified=_as_utc(item["LastModified"]),
                        etag=etag_of(item),
                    )
                    for item in page.get("Contents", [])
                )
        found.sort(key=lambda info: info.key)
        return found

    async def delete(self, key: str) -> None:
        """Delete ``key``; a missing key is not an error."""
        validate_key(key)
        with s3_errors("delete", key):
            await self._client.delete_object(Bucket=self.bucket, Key=key)

    async def presigned_get_url(self, key: str, expires_in: int) -> str:
        """A SigV4 presigned GET URL valid for ``expires_in`` seconds (at most seven days)."""
        validate_key(key)
        if not 0 < expires_in <= MAX_PRESIGNED_EXPIRY_SECONDS:
            raise ValueError(f"expires_in must be between 1 and {MAX_PRESIGNED_EXPIRY_SECONDS}")
        with s3_errors("presign", key):
            url = await self._client.generate_presigned_url(
                "get_object",
                Params={"Bucket": self.bucket, "Key": key},
                ExpiresIn=expires_in,
            )
        return str(url)


async def _read_file_chunks(source: BinaryIO, chunk_size: int) -> AsyncIterator[bytes]:
    while chunk := await asyncio.to_thread(source.read, chunk_size):
        yield chunk


async def _read_block(body: Any, key: str, size: int) -> bytes:
    """Read up to ``size`` bytes, fewer only at the end of the object."""
    pieces: list[bytes] = []
    total = 0
    with s3_errors("read", key):
        while total < size:
            piece: bytes = await body.read(size - total)
            if not piece:
                break
            pieces.append(piece)
            total += len(piece)
    return b"".join(pieces)


def _as_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)
