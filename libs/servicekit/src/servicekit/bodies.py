"""Read a request body with a size limit, refusing it with 413 as soon as it passes the limit."""

from __future__ import annotations

from collections.abc import AsyncIterator

from starlette.requests import ClientDisconnect, Request

from servicekit.errors import InvalidInput, PayloadTooLarge


async def limited_body_chunks(
    request: Request, *, limit: int, detail: str, field: str | None = None
) -> AsyncIterator[bytes]:
    """The body's chunks, as they arrive, up to ``limit`` bytes in all.

    Raises :class:`PayloadTooLarge` (413, with ``detail`` and ``field``) before reading
    anything when ``Content-Length`` already declares more, else the moment the chunks
    received pass the limit; a larger body is never read to its end. A client that hangs up
    mid-body raises :class:`InvalidInput`.
    """
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(detail, field=field)
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > limit:
                raise PayloadTooLarge(detail, field=field)
            if chunk:
                yield chunk
    except ClientDisconnect:
        raise InvalidInput("The request ended before its body was complete.", field=field) from None


async def read_limited_body(
    request: Request, *, limit: int, detail: str, field: str | None = None
) -> bytes:
    """The whole body, at most ``limit`` bytes (see :func:`limited_body_chunks`)."""
    return b"".join(
        [
            chunk
            async for chunk in limited_body_chunks(request, limit=limit, detail=detail, field=field)
        ]
    )
