"""Extracting a Compose bundle (a gzip tar) without letting it write outside its directory.

Every member is checked before a single byte is written, so a refused bundle leaves nothing:

- names: no absolute path, no ``..`` component, no duplicate, none that passes through a link;
- links: symbolic links whose target is relative and stays inside the directory; hard links
  only to a regular file earlier in the archive (copied, not linked);
- types: regular files, directories and those links only (no devices, FIFOs, sparse files);
- size: at most ``max_files`` members and ``max_bytes`` in all.

Python 3.11's ``tarfile`` ``data`` filter covers most of this but lacks the 2025 fixes for
link handling, so the rules are checked here. Files are written with ``O_EXCL | O_NOFOLLOW``
and without set-id bits or write access for others.
"""

from __future__ import annotations

import os
import tarfile
from dataclasses import dataclass
from pathlib import Path

from wrktalk_agent.errors import BundleRejected

COMPOSE_FILE_NAMES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")
COPY_CHUNK_BYTES = 1024 * 1024


@dataclass(frozen=True)
class _Entry:
    name: str
    member: tarfile.TarInfo


def extract_bundle(archive: Path, destination: Path, *, max_files: int, max_bytes: int) -> Path:
    """Extract ``archive`` into the empty directory ``destination``; return the directory that
    holds the Compose file (the top, or the single directory one level down).

    Raises :class:`BundleRejected` naming the first rule a member breaks.
    """
    try:
        with tarfile.open(archive, mode="r:*") as bundle:
            entries = _checked_entries(bundle, max_files=max_files, max_bytes=max_bytes)
            _write_entries(bundle, entries, destination)
    except (tarfile.TarError, EOFError, OSError) as exc:
        if isinstance(exc, BundleRejected):
            raise
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


def _normalised_name(raw: str) -> str | None:
    """The member's path relative to the destination, or None for the top itself."""
    if "\x00" in raw:
        raise BundleRejected(f"{raw!r}: NUL in a name")
    if raw.startswith("/") or (len(raw) > 1 and raw[1] == ":"):
        raise BundleRejected(f"{raw}: absolute path")
    parts = [part for part in raw.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise BundleRejected(f"{raw}: '..' in the path")
    return "/".join(parts) or None


def _check_link_target(name: str, target: str, links: set[str]) -> None:
    """Walk the target as the kernel would: it must stay inside and, because ``..`` after a
    link climbs from wherever that link points, it may pass through no other link."""
    if not target:
        raise BundleRejected(f"{name}: link without a target")
    if target.startswith("/"):
        raise BundleRejected(f"{name}: link to the absolute path {target}")
    stack = name.split("/")[:-1]
    components = [part for part in target.split("/") if part not in ("", ".")]
    for index, component in enumerate(components):
        if component == "..":
            if not stack:
                raise BundleRejected(f"{name}: link to {target} leaves the bundle")
            stack.pop()
            continue
        stack.append(component)
        if index < len(components) - 1 and "/".join(stack) in links:
            raise BundleRejected(f"{name}: link to {target} passes through another link")


def _checked_entries(bundle: tarfile.TarFile, *, max_files: int, max_bytes: int) -> list[_Entry]:
    entries: list[_Entry] = []
    seen: dict[str, tarfile.TarInfo] = {}
    links: set[str] = set()
    total = 0
    # Iterating reads one header at a time, so a bundle of a million members stops early.
    for count, member in enumerate(bundle, start=1):
        if count > max_files:
            raise BundleRejected(f"more than {max_files} entries")
        name = _normalised_name(member.name)
        if name is None:
            if not member.isdir():
                raise BundleRejected(f"{member.name}: only a directory may name the top")
            continue
        if name in seen:
            raise BundleRejected(f"{name}: appears twice")
        ancestors = name.split("/")[:-1]
        for depth in range(1, len(ancestors) + 1):
            ancestor = "/".join(ancestors[:depth])
            if ancestor in links:
                raise BundleRejected(f"{name}: path passes through the link {ancestor}")
            if ancestor in seen and not seen[ancestor].isdir():
                raise BundleRejected(f"{name}: {ancestor} is not a directory")
        if member.issym():
            links.add(name)
        elif member.islnk():
            target = _normalised_name(member.linkname)
            if target is None or target not in seen or not seen[target].isreg():
                raise BundleRejected(
                    f"{name}: hard link to {member.linkname}, not an earlier file of the bundle"
                )
        elif member.issparse():
            raise BundleRejected(f"{name}: sparse file")
        elif member.isreg():
            total += member.size
            if total > max_bytes:
                raise BundleRejected(f"larger than {max_bytes} bytes once extracted")
        elif not member.isdir():
            kind = (
                "device"
                if member.ischr() or member.isblk()
                else "FIFO"
                if member.isfifo()
                else "special file"
            )
            raise BundleRejected(f"{name}: {kind}")
        seen[name] = member
        entries.append(_Entry(name, member))
    for entry in entries:
        if entry.member.issym():
            _check_link_target(entry.name, entry.member.linkname, links)
    return entries


def _write_entries(bundle: tarfile.TarFile, entries: list[_Entry], destination: Path) -> None:
    root = destination.resolve()
    for entry in entries:
        target = root / entry.name
        member = entry.member
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
        if member.isdir():
            target.mkdir(exist_ok=True, mode=0o755)
        elif member.issym():
            os.symlink(member.linkname, target)
        elif member.islnk():
            source_name = _normalised_name(member.linkname)
            assert source_name is not None
            _copy_file(root / source_name, target, mode=member.mode)
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
