"""Reading a multipart upload from a stream: spooled, hashed, and cut off at the limit."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator

import pytest

from gcc.artifacts.upload import ReceivedForm, receive_form
from servicekit.errors import InvalidInput, PayloadTooLarge

BOUNDARY = "test-boundary-1234"
CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"


def form_body(fields: dict[str, str], file: bytes | None, *, close: bool = True) -> bytes:
    parts = []
    for name, value in fields.items():
        parts.append(
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            + value.encode()
            + b"\r\n"
        )
    if file is not None:
        parts.append(
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="chart.tgz"\r\nContent-Type: application/gzip\r\n\r\n'.encode()
            + file
            + b"\r\n"
        )
    body = b"".join(parts)
    return body + f"--{BOUNDARY}--\r\n".encode() if close else body


class CountingStream:
    """Yields a body in chunks and counts how many were taken."""

    def __init__(self, body: bytes, chunk_size: int = 1000) -> None:
        self.chunks = [body[i : i + chunk_size] for i in range(0, len(body), chunk_size)]
        self.taken = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            self.taken += 1
            yield chunk


async def receive(body: bytes | CountingStream, *, limit: int = 1_000_000) -> ReceivedForm:
    stream = body if isinstance(body, CountingStream) else CountingStream(body)
    async with receive_form(
        stream.__aiter__(),
        content_type=CONTENT_TYPE,
        file_field="file",
        max_file_bytes=limit,
    ) as form:
        return form


async def test_file_is_spooled_with_its_sha256_and_size() -> None:
    content = os.urandom(300_000)
    stream = CountingStream(form_body({"type": "helm", "version": "2.3.0"}, content), 7000)
    async with receive_form(
        stream.__aiter__(),
        content_type=CONTENT_TYPE,
        file_field="file",
        max_file_bytes=1_000_000,
    ) as form:
        assert form.fields == {"type": "helm", "version": "2.3.0"}
        assert form.file is not None
        assert form.file.filename == "chart.tgz"
        assert form.file.size == len(content)
        assert form.file.sha256 == hashlib.sha256(content).hexdigest()
        assert form.file.path.read_bytes() == content
        spooled = form.file.path
    assert not spooled.exists()


async def test_file_over_the_limit_is_refused_before_the_stream_ends() -> None:
    stream = CountingStream(form_body({"type": "helm"}, b"x" * 50_000), 1000)
    with pytest.raises(PayloadTooLarge) as raised:
        await receive(stream, limit=10_000)
    assert raised.value.field == "file"
    assert stream.taken < len(stream.chunks) / 2


async def test_body_without_its_closing_boundary_is_malformed() -> None:
    with pytest.raises(InvalidInput, match="closing boundary"):
        await receive(form_body({"type": "helm"}, b"abc", close=False))


async def test_long_text_field_is_refused_naming_it() -> None:
    with pytest.raises(InvalidInput) as raised:
        await receive(form_body({"version": "1" * 5000}, b"abc"))
    assert raised.value.field == "version"


async def test_repeated_text_field_is_refused_naming_it() -> None:
    body = form_body({"type": "helm"}, None, close=False) + form_body({"type": "compose"}, b"a")
    with pytest.raises(InvalidInput) as raised:
        await receive(body)
    assert raised.value.field == "type"


async def test_form_without_a_file_is_received_with_no_file() -> None:
    form = await receive(form_body({"type": "helm"}, None))
    assert form.file is None


async def test_body_that_is_not_multipart_is_refused() -> None:
    with pytest.raises(InvalidInput, match="multipart/form-data"):
        async with receive_form(
            CountingStream(b"{}").__aiter__(),
            content_type="application/json",
            file_field="file",
            max_file_bytes=10,
        ):
            pass
