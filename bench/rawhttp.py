"""A keep-alive HTTP/1.1 connection written by hand, for the load generators of the benchmarks.

On this 2-core machine the load generator shares the CPUs with the server it measures: httpx
costs more CPU per request than the server does, and aiohttp about half of it. Writing the
request and reading the answer by hand costs a few microseconds, so that the figures are the
server's and not the generator's.
"""

from __future__ import annotations

import asyncio


class RawConnection:
    """One keep-alive connection; opened on first use and again after a failure."""

    def __init__(self, base_url: str) -> None:
        self._host, _, port = base_url.removeprefix("http://").partition(":")
        self._port = int(port or 80)
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, path: str, headers: str = "", body: bytes = b""
    ) -> tuple[int, bytes]:
        """Send one request (``headers`` as ``Name: value\\r\\n`` lines) and read the whole
        answer; its status code and body."""
        if self._writer is None or self._writer.is_closing():
            self._reader, self._writer = await asyncio.open_connection(self._host, self._port)
        assert self._reader is not None
        length = f"Content-Length: {len(body)}\r\n" if body else ""
        self._writer.write(
            f"{method} {path} HTTP/1.1\r\nHost: {self._host}\r\n{headers}{length}\r\n".encode()
            + body
        )
        head = await self._reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        content_length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                content_length = int(line[15:])
        return status, await self._reader.readexactly(content_length)

    async def close(self) -> None:
        """Close the connection (the next request opens a new one)."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
