"""Reading a request body with a size limit (servicekit.bodies)."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.requests import Request

from servicekit.bodies import limited_body_chunks, read_limited_body
from servicekit.errors import InvalidInput, PayloadTooLarge

Message = dict[str, Any]


def request_of(
    chunks: list[bytes], *, content_length: int | None = None, disconnect: bool = False
) -> tuple[Request, list[int]]:
    """A request whose body arrives in ``chunks``; the list counts the chunks received."""
    headers = [] if content_length is None else [(b"content-length", str(content_length).encode())]
    received: list[int] = []
    pending = list(chunks)

    async def receive() -> Message:
        if not pending:
            if disconnect:
                return {"type": "http.disconnect"}
            return {"type": "http.request", "body": b"", "more_body": False}
        received.append(1)
        chunk = pending.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(pending) or disconnect}

    scope = {"type": "http", "method": "POST", "path": "/", "headers": headers}
    return Request(scope, receive), received


async def read(request: Request, limit: int) -> bytes:
    return await read_limited_body(request, limit=limit, detail="too large", field="body")


async def test_a_body_within_the_limit_is_read_whole() -> None:
    request, _ = request_of([b"abc", b"def"], content_length=6)
    assert await read(request, 6) == b"abcdef"


async def test_a_declared_length_over_the_limit_is_refused_before_reading() -> None:
    request, received = request_of([b"x" * 10], content_length=10_000_000)
    with pytest.raises(PayloadTooLarge) as raised:
        await read(request, 10)
    assert (raised.value.detail, raised.value.field, received) == ("too large", "body", [])


async def test_an_undeclared_body_is_cut_off_once_it_passes_the_limit() -> None:
    request, received = request_of([b"x" * 4] * 100)
    with pytest.raises(PayloadTooLarge):
        await read(request, 10)
    assert len(received) == 3


async def test_a_client_that_hangs_up_mid_body_is_invalid_input() -> None:
    request, _ = request_of([b"x"], disconnect=True)
    with pytest.raises(InvalidInput, match="ended before"):
        await read(request, 10)


async def test_chunks_are_yielded_as_they_arrive() -> None:
    request, _ = request_of([b"a", b"b", b"c"])
    chunks = limited_body_chunks(request, limit=3, detail="too large")
    assert [chunk async for chunk in chunks] == [b"a", b"b", b"c"]
