"""A TCP relay a test can cut, to put a network partition between two real processes.

Point one side at the relay's port instead of the other side's: while the relay is open it
copies bytes both ways; :meth:`TcpRelay.cut` closes every relayed connection and stops
listening (new connections are refused, as from a host that is down), and
:meth:`TcpRelay.restore` listens again on the same port. :meth:`TcpRelay.lose_answers` keeps
passing requests on but loses what comes back: the client's connection is closed as the answer
arrives, so the server acts on a request whose sender never learns it did.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from typing import Any

CHUNK = 64 * 1024


class TcpRelay:
    """Relay ``127.0.0.1:listen_port`` to ``target_host:target_port`` from a background thread."""

    def __init__(self, listen_port: int, target_port: int, target_host: str = "127.0.0.1") -> None:
        """Prepare the relay; it listens from :meth:`start`."""
        self.listen_port = listen_port
        self.target_host = target_host
        self.target_port = target_port
        self.relayed = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.answers_lost = 0
        """Answers dropped while :meth:`lose_answers` was in force."""
        self._is_losing_answers = False

    @property
    def is_open(self) -> bool:
        """The relay listens and copies."""
        return self._server is not None

    def start(self) -> TcpRelay:
        """Start the thread and listen."""
        self._thread.start()
        self.restore()
        return self

    def cut(self) -> None:
        """Stop listening and close every relayed connection."""
        self._call(self._cut())

    def restore(self) -> None:
        """Listen again (a no-op while open)."""
        self._call(self._listen())

    def lose_answers(self) -> None:
        """Pass requests on and drop the answers; open connections are closed first."""
        self._call(self._set_losing_answers(True))

    def deliver_answers(self) -> None:
        """Pass answers back again (connections that lost an answer are gone already)."""
        self._call(self._set_losing_answers(False))

    def close(self) -> None:
        """Cut and stop the thread."""
        if self._thread.is_alive():
            self.cut()
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)
        self._loop.close()

    def _call(self, coroutine: Any) -> None:
        future: Future[None] = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        future.result(timeout=10)

    async def _listen(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(
                self._relay, "127.0.0.1", self.listen_port, reuse_address=True
            )

    async def _cut(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()
        if server is not None:
            await server.wait_closed()

    async def _set_losing_answers(self, is_losing: bool) -> None:
        self._is_losing_answers = is_losing
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _drop_answer(
        self, upstream: asyncio.StreamReader, client: asyncio.StreamWriter
    ) -> None:
        with contextlib.suppress(OSError):
            if await upstream.read(CHUNK):
                self.answers_lost += 1
        client.transport.abort()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(
                self.target_host, self.target_port
            )
        except OSError:
            writer.transport.abort()
            return
        self.relayed += 1
        self._writers.update((writer, upstream_writer))
        try:
            answers = (
                self._drop_answer(upstream_reader, writer)
                if self._is_losing_answers
                else _copy(upstream_reader, writer)
            )
            await asyncio.gather(_copy(reader, upstream_writer), answers)
        finally:
            for end in (writer, upstream_writer):
                self._writers.discard(end)
                end.transport.abort()


async def _copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, asyncio.IncompleteReadError):
        while chunk := await reader.read(CHUNK):
            writer.write(chunk)
            await writer.drain()
    with contextlib.suppress(OSError):
        if writer.can_write_eof():
            writer.write_eof()


@contextlib.contextmanager
def relay(listen_port: int, target_port: int) -> Iterator[TcpRelay]:
    """A started relay, closed afterwards."""
    running = TcpRelay(listen_port, target_port).start()
    try:
        yield running
    finally:
        running.close()
