"""A command's output as the log lines the backend accepts."""

from __future__ import annotations

from contracts import MAX_LOG_LINE_LENGTH, replace_nul


def decode_output(raw: bytes | bytearray) -> str:
    """A command's output as text the backend accepts: bad UTF-8 and NUL become U+FFFD."""
    return replace_nul(raw.decode("utf-8", errors="replace"))


class LineSplitter:
    """Turns chunks of bytes into lines; a line too long for one log line becomes several."""

    def __init__(self) -> None:
        self._pending = b""

    def feed(self, chunk: bytes) -> list[str]:
        self._pending += chunk
        lines: list[str] = []
        while (newline := self._pending.find(b"\n")) >= 0:
            lines += self._pieces(self._pending[:newline])
            self._pending = self._pending[newline + 1 :]
        while len(self._pending) >= MAX_LOG_LINE_LENGTH:
            lines += self._pieces(self._pending[:MAX_LOG_LINE_LENGTH])
            self._pending = self._pending[MAX_LOG_LINE_LENGTH:]
        return lines

    def finish(self) -> list[str]:
        rest, self._pending = self._pending, b""
        return self._pieces(rest) if rest else []

    @staticmethod
    def _pieces(raw: bytes) -> list[str]:
        # Progress bars rewrite one line with carriage returns; keep the last state only.
        text = decode_output(raw).rstrip("\r").rsplit("\r", 1)[-1]
        if not text:
            return [""]
        return [
            text[start : start + MAX_LOG_LINE_LENGTH]
            for start in range(0, len(text), MAX_LOG_LINE_LENGTH)
        ]
