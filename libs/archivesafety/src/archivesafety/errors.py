"""What an archive that breaks a rule raises."""

from __future__ import annotations


class ArchiveRefused(ValueError):
    """The archive breaks a safety rule; ``member`` names the first member that does, when one
    does (None for the archive as a whole), and ``reason`` says which rule."""

    def __init__(self, reason: str, *, member: str | None = None) -> None:
        """Record the rule broken and the member that broke it."""
        self.reason = reason
        self.member = member
        super().__init__(f"{member}: {reason}" if member is not None else reason)


class ArchiveUnreadable(ArchiveRefused):
    """The file is not a tar archive, or is damaged or cut short; ``detail`` says how."""

    def __init__(self, detail: str) -> None:
        """Record what the reader met."""
        self.detail = detail
        super().__init__(f"not a readable tar archive ({detail})")
