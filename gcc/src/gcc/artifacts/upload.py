"""Receiving a multipart artifact upload from the request stream, in bounded memory.

The file part goes to a temporary file as it arrives, hashed on the way, and the upload is
refused with 413 the moment it passes the size limit, so a too-large upload is never read to
its end nor held in memory. The small text parts (``type``, ``version``) are kept in memory up
to :data:`MAX_TEXT_FIELD_BYTES` each.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from servicekit.errors import InvalidInput, PayloadTooLarge

FORM_OVERHEAD_BYTES = 64 * 1024
"""What a form may add to the file's size: boundaries, part headers and the text fields."""
MAX_TEXT_FIELD_BYTES = 1024
"""Longest accepted text field."""
MAX_PARTS = 16
"""Most parts a form may have."""
WRITE_BUFFER_BYTES = 1024 * 1024
"""File bytes gathered before they are written out in one go."""


@dataclass(frozen=True)
class ReceivedFile:
    """The file part of an upload, spooled to ``path``."""

    path: Path
    filename: str | None
    sha256: str
    size: int


@dataclass(frozen=True)
class ReceivedForm:
    """The text fields of an upload and its file part (``None`` when there was none)."""

    fields: dict[str, str]
    file: ReceivedFile | None


@dataclass
class _Part:
    name: str = ""
    filename: str | None = None
    is_file: bool = False
    text: bytearray = field(default_factory=bytearray)
    headers: dict[bytes, bytes] = field(default_factory=dict)


class _FormReader:
    """python-multipart callbacks: hash and gather the file part, keep the text parts."""

    def __init__(self, *, file_field: str, max_file_bytes: int) -> None:
        self.file_field = file_field
        self.max_file_bytes = max_file_bytes
        self.fields: dict[str, str] = {}
        self.parts = 0
        self.file_seen = False
        self.filename: str | None = None
        self.file_size = 0
        self.digest = hashlib.sha256()
        self.pending: list[bytes] = []
        self.pending_size = 0
        self.ended = False
        self._part = _Part()
        self._header_name = bytearray()
        self._header_value = bytearray()

    def callbacks(self) -> dict[str, object]:
        return {
            "on_part_begin": self.on_part_begin,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
            "on_end": self.on_end,
        }

    def on_part_begin(self) -> None:
        self.parts += 1
        if self.parts > MAX_PARTS:
            raise InvalidInput(f"The form has more than {MAX_PARTS} parts.")
        self._part = _Part()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        self._part.headers[bytes(self._header_name).lower()] = bytes(self._header_value)
        self._header_name.clear()
        self._header_value.clear()

    def on_headers_finished(self) -> None:
        disposition = self._part.headers.get(b"content-disposition", b"")
        _, options = parse_options_header(disposition)
        raw_name = options.get(b"name")
        if raw_name is None:
            raise InvalidInput("A form part has no name in its Content-Disposition header.")
        self._part.name = raw_name.decode("utf-8", errors="replace")
        raw_filename = options.get(b"filename")
        if raw_filename is not None:
            self._part.filename = raw_filename.decode("utf-8", errors="replace")
        if self._part.name == self.file_field:
            if self.file_seen:
                raise InvalidInput("Only one file may be uploaded.", field=self.file_field)
            self.file_seen = True
            self._part.is_file = True
            self.filename = self._part.filename

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        if not self._part.is_file:
            if len(self._part.text) + len(chunk) > MAX_TEXT_FIELD_BYTES:
                raise InvalidInput(
                    f"The field is longer than {MAX_TEXT_FIELD_BYTES} bytes.",
                    field=self._part.name or None,
                )
            self._part.text += chunk
            return
        self.file_size += len(chunk)
        if self.file_size > self.max_file_bytes:
            raise PayloadTooLarge(
                f"The file is larger than the {self.max_file_bytes} bytes allowed.",
                field=self.file_field,
            )
        self.digest.update(chunk)
        self.pending.append(chunk)
        self.pending_size += len(chunk)

    def on_part_end(self) -> None:
        part = self._part
        if part.is_file:
            return
        if part.name in self.fields:
            raise InvalidInput("The field is given more than once.", field=part.name)
        try:
            self.fields[part.name] = part.text.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput("The field is not valid UTF-8 text.", field=part.name) from None

    def on_end(self) -> None:
        self.ended = True

    def take_pending(self) -> list[bytes]:
        chunks, self.pending, self.pending_size = self.pending, [], 0
        return chunks


def _boundary_of(content_type: str | None) -> bytes:
    if not content_type:
        raise InvalidInput("The request must be multipart/form-data.")
    media_type, options = parse_options_header(content_type)
    if media_type != b"multipart/form-data":
        raise InvalidInput("The request must be multipart/form-data.")
    boundary = options.get(b"boundary")
    if not boundary:
        raise InvalidInput("The multipart/form-data Content-Type has no boundary.")
    return boundary


def _write_chunks(spool: IO[bytes], chunks: list[bytes]) -> None:
    spool.writelines(chunks)


@asynccontextmanager
async def receive_form(
    stream: AsyncIterator[bytes],
    *,
    content_type: str | None,
    file_field: str,
    max_file_bytes: int,
) -> AsyncIterator[ReceivedForm]:
    """Read a multipart form from ``stream``; the spooled file is deleted when the block exits.

    Raises :class:`PayloadTooLarge` as soon as the file passes its limit, and
    :class:`InvalidInput` for a body that is not a well-formed form. The whole body's limit
    (the file's plus :data:`FORM_OVERHEAD_BYTES`) is the stream's to keep: the endpoint reads
    the request through :func:`servicekit.bodies.limited_body_chunks`.
    """
    boundary = _boundary_of(content_type)
    descriptor, name = tempfile.mkstemp(prefix="gcc-upload-", suffix=".part")
    path = Path(name)
    try:
        with os.fdopen(descriptor, "wb") as spool:
            reader = _FormReader(file_field=file_field, max_file_bytes=max_file_bytes)
            parser = MultipartParser(boundary, reader.callbacks())  # type: ignore[arg-type]
            try:
                async for chunk in stream:
                    parser.write(chunk)
                    if reader.pending_size >= WRITE_BUFFER_BYTES:
                        await asyncio.to_thread(_write_chunks, spool, reader.take_pending())
                parser.finalize()
            except FormParserError as exc:
                raise InvalidInput(f"The multipart body is malformed: {exc}") from None
            if not reader.ended:
                raise InvalidInput("The multipart body ends before its closing boundary.")
            await asyncio.to_thread(_write_chunks, spool, reader.take_pending())
        file = (
            ReceivedFile(
                path=path,
                filename=reader.filename,
                sha256=reader.digest.hexdigest(),
                size=reader.file_size,
            )
            if reader.file_seen
            else None
        )
        yield ReceivedForm(fields=reader.fields, file=file)
    finally:
        # Synchronous on purpose: it must also run when the request is cancelled.
        with suppress(FileNotFoundError):
            os.unlink(name)
