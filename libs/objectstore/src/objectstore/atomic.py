"""Local files written under a temporary name and renamed into place when complete."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path

from objectstore.models import DownloadResult

_RENAME_ATTEMPTS = 3


class AtomicFileWriter:
    """A file that appears at ``target`` only once :meth:`commit` succeeds.

    The bytes go to a temporary file in ``temp_directory`` (``target``'s directory by default;
    it must be on the same filesystem so the final ``os.replace`` is atomic) while their SHA256
    and size are computed. :meth:`discard` removes the temporary file. All methods block; call
    them through ``asyncio.to_thread`` from async code.
    """

    def __init__(self, target: Path, *, temp_directory: Path | None = None) -> None:
        """Create the temporary file (and its directory when missing)."""
        self.target = target
        directory = temp_directory if temp_directory is not None else target.parent
        directory.mkdir(parents=True, exist_ok=True)
        descriptor, name = tempfile.mkstemp(
            dir=directory, prefix=f".{target.name[:64]}.", suffix=".partial"
        )
        self._temp_path = Path(name)
        self._file = os.fdopen(descriptor, "wb")
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        """Append ``data`` to the temporary file."""
        self._file.write(data)
        self._hash.update(data)
        self.size += len(data)

    def commit(self) -> DownloadResult:
        """Flush to disk and rename the temporary file to the target; return digest and size."""
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            self._rename_into_place()
        except BaseException:
            self.discard()
            raise
        return DownloadResult(sha256=self._hash.hexdigest(), size=self.size)

    def discard(self) -> None:
        """Close and remove the temporary file; safe to call more than once."""
        self._file.close()
        self._temp_path.unlink(missing_ok=True)

    def _rename_into_place(self) -> None:
        # A concurrent delete may prune the target's empty parent directory between mkdir and
        # the rename; making it again and retrying settles that race.
        for attempt in range(1, _RENAME_ATTEMPTS + 1):
            self.target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.replace(self._temp_path, self.target)
            except FileNotFoundError:
                if attempt == _RENAME_ATTEMPTS or not self._temp_path.exists():
                    raise
            else:
                break
        _fsync_directory(self.target.parent)


def _fsync_directory(directory: Path) -> None:
    # Makes the rename itself durable; not every platform can open a directory, so best effort.
    with contextlib.suppress(OSError):
        descriptor = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
