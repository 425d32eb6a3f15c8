"""S3's part sizes, and one multipart upload in progress."""

from __future__ import annotations

import asyncio
import io
from typing import Any

from objectstore.errors import ObjectStoreError
from objectstore.s3_errors import etag_of, s3_errors

MIB = 1024 * 1024
MIN_PART_SIZE = 5 * MIB
"""S3's smallest allowed part, except for the last one."""
MAX_PART_SIZE = 5 * 1024 * MIB
MAX_PARTS = 10_000
MAX_SINGLE_PUT_SIZE = 5 * 1024 * MIB
DEFAULT_PART_SIZE = 8 * MIB
DEFAULT_MULTIPART_THRESHOLD = 8 * MIB


class MultipartUpload:
    """One multipart upload in progress: sends numbered parts, then completes or aborts."""

    def __init__(self, client: Any, bucket: str, key: str, upload_id: str) -> None:
        """An upload S3 has started (see :meth:`create`)."""
        self._client = client
        self._bucket = bucket
        self.key = key
        self._upload_id = upload_id
        self._parts: list[dict[str, Any]] = []

    @classmethod
    async def create(
        cls, client: Any, bucket: str, key: str, extra: dict[str, Any]
    ) -> MultipartUpload:
        """Start a multipart upload of ``key``; ``extra`` goes to S3 as is (content type)."""
        with s3_errors("create multipart upload", key):
            response = await client.create_multipart_upload(Bucket=bucket, Key=key, **extra)
        return cls(client, bucket, key, str(response["UploadId"]))

    async def send(self, part: io.BytesIO) -> None:
        """Upload ``part`` as the next numbered part."""
        number = len(self._parts) + 1
        part.seek(0)
        if number > MAX_PARTS:
            raise ObjectStoreError(f"{self.key!r} needs more than {MAX_PARTS} parts")
        with s3_errors("upload part", self.key):
            response = await self._client.upload_part(
                Bucket=self._bucket,
                Key=self.key,
                UploadId=self._upload_id,
                PartNumber=number,
                Body=part,
            )
        self._parts.append({"ETag": response["ETag"], "PartNumber": number})

    async def complete(self) -> str | None:
        """Join the parts sent into the object; its ETag."""
        with s3_errors("complete multipart upload", self.key):
            response = await self._client.complete_multipart_upload(
                Bucket=self._bucket,
                Key=self.key,
                UploadId=self._upload_id,
                MultipartUpload={"Parts": self._parts},
            )
        return etag_of(response)

    async def abort(self) -> None:
        """Drop the upload and the parts S3 holds for it."""
        with s3_errors("abort multipart upload", self.key):
            await self._client.abort_multipart_upload(
                Bucket=self._bucket, Key=self.key, UploadId=self._upload_id
            )

    async def send_full_parts(
        self, pending: io.BytesIO, chunk: bytes, part_size: int
    ) -> io.BytesIO:
        """Add ``chunk`` to ``pending``, send every complete part, return what is left over."""
        if pending.tell() > part_size:
            pending = await self._send_leading_parts(pending, part_size)
        remaining = memoryview(chunk)
        while remaining:
            room = part_size - pending.tell()
            pending.write(remaining[:room])
            remaining = remaining[room:]
            if pending.tell() == part_size:
                await self.send(pending)
                pending = io.BytesIO()
        return pending

    async def _send_leading_parts(self, pending: io.BytesIO, part_size: int) -> io.BytesIO:
        """Split a buffer longer than one part (threshold above part size) into parts."""
        rest = io.BytesIO()
        with pending.getbuffer() as view:
            offset = 0
            while len(view) - offset > part_size:
                await self.send(io.BytesIO(view[offset : offset + part_size]))
                offset += part_size
            rest.write(view[offset:])
        return rest


async def abort_shielded(
    upload: MultipartUpload, error: BaseException, background: set[asyncio.Task[None]]
) -> None:
    """Abort ``upload`` after ``error``, noting on ``error`` when the abort fails.

    Shielded so that a caller cancelled again (an anyio cancel scope re-cancels every await)
    cannot stop the abort half-way; the task stays in ``background`` until done.
    """
    task = asyncio.ensure_future(upload.abort())
    background.add(task)
    task.add_done_callback(lambda done: _forget_abort(done, background))
    try:
        await asyncio.shield(task)
    except Exception as abort_error:
        error.add_note(f"aborting multipart upload of {upload.key!r} failed: {abort_error}")
    except asyncio.CancelledError:
        error.add_note(f"abort of multipart upload of {upload.key!r} continues in background")


def _forget_abort(task: asyncio.Task[None], background: set[asyncio.Task[None]]) -> None:
    background.discard(task)
    if not task.cancelled():
        # Retrieved so that an abort failing after its caller left is not logged as lost;
        # the caller's error already carries a note about it when it could.
        task.exception()
