"""The TCP relay copies both ways while open, refuses while cut, and comes back on restore."""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Iterator

import pytest

from wrktalk_testing.network import free_port
from wrktalk_testing.relay import relay


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(65536):
            self.request.sendall(data.upper())


@pytest.fixture
def echo_port() -> Iterator[int]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def _exchange(port: int, payload: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
        connection.sendall(payload)
        connection.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
        return received


def test_relay_copies_both_ways_until_cut_and_again_after_restore(echo_port: int) -> None:
    port = free_port()
    with relay(port, echo_port) as link:
        assert _exchange(port, b"hello" * 30_000) == b"HELLO" * 30_000

        link.cut()
        with pytest.raises(ConnectionRefusedError):
            _exchange(port, b"lost")

        link.restore()
        assert _exchange(port, b"back") == b"BACK"
        assert link.relayed == 2


def test_cut_closes_connections_in_flight(echo_port: int) -> None:
    port = free_port()
    with relay(port, echo_port) as link, socket.create_connection(("127.0.0.1", port), 5) as open_:
        open_.sendall(b"ping")
        assert open_.recv(4) == b"PING"

        link.cut()

        open_.settimeout(5)
        try:
            rest = open_.recv(4)
        except ConnectionResetError:
            rest = b""
        assert rest == b""


class _Recorder(socketserver.BaseRequestHandler):
    received: list[bytes] = []

    def handle(self) -> None:
        data = self.request.recv(65536)
        _Recorder.received.append(data)
        self.request.sendall(b"done")


def test_lost_answers_reach_the_server_and_never_the_client() -> None:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Recorder)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = free_port()
    try:
        with relay(port, server.server_address[1]) as link:
            link.lose_answers()
            try:
                answer = _exchange(port, b"first")
            except ConnectionResetError:
                answer = b""
            assert answer == b""
            assert _Recorder.received == [b"first"]
            assert link.answers_lost == 1

            link.deliver_answers()
            assert _exchange(port, b"second") == b"done"
            assert _Recorder.received == [b"first", b"second"]
    finally:
        server.shutdown()
        server.server_close()
