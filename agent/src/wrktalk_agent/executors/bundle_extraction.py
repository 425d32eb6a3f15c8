"""Extracting a Compose bundle (a gzip tar) without letting it write outside its directory.

Every member is checked by :mod:`archivesafety` before a single byte is written, so a refused
bundle leaves nothing: headers are bounded before they are read; names stay inside; symbolic
links stay inside; hard links only name an earlier regular file and are written as copies,
whose bytes count against ``max_bytes`` like the file's own; no devices, FIFOs or sparse files;
at most ``max_files`` members. GCC refuses the same bundles at upload, with the same code.

Python 3.11's ``tarfile`` ``data`` filter covers most of this but lacks the 2025 fixes for
link handling, so the rules are checked by that library instead. Files are written with
``O_EXCL | O_NOFOLLOW`` and without set-id bits or write access for others.
"""

from __future__ import annotations

import os
import tarfile
from pathlib import Path

from archivesafety import (
    READ_ERRORS,
    ArchiveLimits,
    ArchiveRefused,
    SafeMember,
    open_archive,
    safe_members,
)
from wrktalk_agent.errors import BundleRejected

COMPOSE_FILE_NAMES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")
COPY_CHUNK_BYTES = 1024 * 1024


def extract_bundle(archive: Path, destination: Path, *, max_files: int, max_bytes: int) -> Path:
    """Extract ``archive`` into the empty directory ``destination``; return the directory that
    holds the Compose file (the top, or the single directory one level down).

    Raises :class:`BundleRejected` naming the first rule a member breaks.
    """
    limits = ArchiveLimits(max_entries=max_files, max_bytes=max_bytes)
    try:
        with open_archive(archive) as bundle:
            entries = list(safe_members(bundle, limits))
            _write_entries(bundle, entries, destination)
    except ArchiveRefused as exc:
        raise BundleRejected(str(exc)) from None
    except READ_ERRORS as exc:
        raise BundleRejected(f"not a readable tar archive: {exc}") from exc
    return find_compose_directory(destination)


def find_compose_directory(root: Path) -> Path:
    """The directory holding the Compose file: ``root`` or one directory down."""
    for name in COMPOSE_FILE_NAMES:
        if (root / name).is_file():
            return root
    candidates = sorted(
        child
        for child in root.iterdir()
        if child.is_dir()
        and not child.is_symlink()
        and any((child / name).is_file() for name in COMPOSE_FILE_NAMES)
    )
    if len(candidates) == 1:
        return candidates[0]
    if candidates:
        raise BundleRejected("more than one directory holds a Compose file")
    raise BundleRejected(
        f"no Compose file ({', '.join(COMPOSE_FILE_NAMES)}) at the top or one directory down"
    )


def compose_file(directory: Path) -> Path:
    """The Compose file in ``directory`` (the first of the usual names that exists)."""
    for name in COMPOSE_FILE_NAMES:
        if (directory / name).is_file():
            return directory / name
    raise BundleRejected(f"no Compose file in {directory.name}")


def _write_entries(bundle: tarfile.TarFile, entries: list[SafeMember], destination: Path) -> None:
    root = destination.resolve()
    for entry in entries:
        target = root / entry.name
        member = entry.info
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
        if member.isdir():
            target.mkdir(exist_ok=True, mode=0o755)
        elif member.issym():
            os.symlink(member.linkname, target)
        elif entry.link_source is not None:
            # A copy, never a link: its bytes were counted against the limit as the file's.
            _copy_file(root / entry.link_source, target, mode=member.mode)
        else:
            source = bundle.extractfile(member)
            if source is None:
                raise BundleRejected(f"{entry.name}: cannot be read")
            with source:
                _write_file(source, target, size=member.size, mode=member.mode)


def _safe_mode(mode: int) -> int:
    # No set-id or sticky bits, nothing writable by group or others, always owner-readable.
    return (mode & 0o755) | 0o600


def _open_new(target: Path, mode: int) -> int:
    return os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, _safe_mode(mode))


def _write_file(source: object, target: Path, *, size: int, mode: int) -> None:
    descriptor = _open_new(target, mode)
    written = 0
    with os.fdopen(descriptor, "wb") as handle:
        while chunk := source.read(COPY_CHUNK_BYTES):  # type: ignore[attr-defined]
            written += len(chunk)
            if written > size:
                raise BundleRejected(f"{target.name}: longer than its header says")
            handle.write(chunk)
        # The umask may have narrowed the mode given to open(); set it exactly.
        os.fchmod(handle.fileno(), _safe_mode(mode))


def _copy_file(source: Path, target: Path, *, mode: int) -> None:
    with source.open("rb") as handle:
        _write_file(handle, target, size=source.stat().st_size, mode=mode)
