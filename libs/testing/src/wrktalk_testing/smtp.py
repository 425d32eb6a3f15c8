"""An SMTP server that records what it receives."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from wrktalk_testing.network import free_port


@dataclass(frozen=True)
class ReceivedMessage:
    """One message as the server received it."""

    mail_from: str
    recipients: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        """The decoded Subject header."""
        return str(self.message["Subject"] or "")

    @property
    def text(self) -> str:
        """The plain-text body (or the first text part)."""
        part = self.message.get_body(preferencelist=("plain", "html"))
        return part.get_content() if part is not None else ""


class _RecordingHandler:
    def __init__(self, sink: SmtpSink) -> None:
        self._sink = sink

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self._sink.record(
            ReceivedMessage(envelope.mail_from, list(envelope.rcpt_tos), parsed),
        )
        return "250 Message accepted for delivery"


class SmtpSink:
    """aiosmtpd on a free loopback port; ``messages`` holds everything received."""

    def __init__(self) -> None:
        """Pick a free port; nothing runs until :meth:`start`."""
        self.host = "127.0.0.1"
        self.port = free_port()
        self._messages: list[ReceivedMessage] = []
        self._lock = threading.Lock()
        self._controller = Controller(_RecordingHandler(self), hostname=self.host, port=self.port)

    def start(self) -> None:
        """Start the server thread."""
        self._controller.start()

    def stop(self) -> None:
        """Stop the server thread."""
        self._controller.stop()

    def record(self, message: ReceivedMessage) -> None:
        """Store a received message."""
        with self._lock:
            self._messages.append(message)

    @property
    def messages(self) -> list[ReceivedMessage]:
        """A copy of the messages received so far."""
        with self._lock:
            return list(self._messages)

    def clear(self) -> None:
        """Forget every message received so far."""
        with self._lock:
            self._messages.clear()

    def wait_for(
        self,
        predicate: Callable[[ReceivedMessage], bool],
        *,
        count: int = 1,
        timeout: float = 10.0,
    ) -> list[ReceivedMessage]:
        """Wait until ``count`` received messages match, then return them."""
        deadline = time.monotonic() + timeout
        while True:
            found = [message for message in self.messages if predicate(message)]
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.05)
