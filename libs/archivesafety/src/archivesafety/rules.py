"""The rules every member of an archive from outside must keep, checked one member at a time.

- names: relative, no ``..`` component, no NUL, none twice, none below a link or a file;
- symbolic links: a relative target that stays inside the archive's directory, walked as the
  kernel would, through no other link;
- hard links: only to a regular file earlier in the archive;
- types: regular files, directories and those links only (no devices, FIFOs, sparse files);
- limits: at most ``max_entries`` members and ``max_bytes`` written in all, where a hard link
  counts the bytes of its file again, because it is written as a copy.
"""

from __future__ import annotations

import tarfile
from dataclasses import dataclass, field
from typing import Final

from archivesafety.errors import ArchiveRefused

MAX_ENTRIES: Final = 2000
"""Most members an archive may hold by default."""
MAX_BYTES: Final = 100 * 1024 * 1024
"""Most bytes an archive may unpack to by default, hard-linked copies included."""


@dataclass(frozen=True)
class ArchiveLimits:
    """How large an archive may be once unpacked."""

    max_entries: int = MAX_ENTRIES
    max_bytes: int = MAX_BYTES


@dataclass(frozen=True)
class SafeMember:
    """A member that keeps the rules: ``name`` is its path relative to the archive's top, and
    ``link_source`` the earlier regular file a hard link stands for (None otherwise)."""

    name: str
    info: tarfile.TarInfo
    link_source: str | None = None


def relative_name(raw: str) -> str | None:
    """``raw`` as a path relative to the archive's top, or None for the top itself; raise
    :class:`ArchiveRefused` for an absolute path, a ``..`` component or a NUL."""
    if "\x00" in raw:
        raise ArchiveRefused("NUL in the name", member=repr(raw))
    if raw.startswith("/") or (len(raw) > 1 and raw[1] == ":"):
        raise ArchiveRefused("absolute path", member=raw)
    parts = [part for part in raw.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise ArchiveRefused("'..' in the path", member=raw)
    return "/".join(parts) or None


@dataclass
class MemberRules:
    """The rules applied to an archive's members in order: :meth:`admit` each member, then
    :meth:`finish` once the last is known (a symbolic link is judged against every link)."""

    limits: ArchiveLimits = field(default_factory=ArchiveLimits)
    count: int = 0
    unpacked_bytes: int = 0
    seen: dict[str, tarfile.TarInfo] = field(default_factory=dict)
    symlinks: dict[str, str] = field(default_factory=dict)

    def admit(self, info: tarfile.TarInfo) -> SafeMember | None:
        """Check one member; return it named relative to the top, or None for the top
        directory itself. Raise :class:`ArchiveRefused` naming it if it breaks a rule."""
        self.count += 1
        if self.count > self.limits.max_entries:
            raise ArchiveRefused(f"more than {self.limits.max_entries} entries", member=info.name)
        name = relative_name(info.name)
        if name is None:
            if not info.isdir():
                raise ArchiveRefused("only a directory may name the top", member=info.name)
            return None
        self._check_place(name)
        link_source = self._check_kind(name, info)
        self.seen[name] = info
        if info.issym():
            self.symlinks[name] = info.linkname
        return SafeMember(name, info, link_source)

    def finish(self) -> None:
        """Check every symbolic link's target, now that every link is known."""
        links = set(self.symlinks)
        for name, target in self.symlinks.items():
            _check_link_target(name, target, links)

    def _check_place(self, name: str) -> None:
        if name in self.seen:
            raise ArchiveRefused("appears twice", member=name)
        ancestors = name.split("/")[:-1]
        for depth in range(1, len(ancestors) + 1):
            ancestor = "/".join(ancestors[:depth])
            if ancestor in self.symlinks:
                raise ArchiveRefused(f"path passes through the link {ancestor}", member=name)
            if ancestor in self.seen and not self.seen[ancestor].isdir():
                raise ArchiveRefused(f"{ancestor} is not a directory", member=name)

    def _check_kind(self, name: str, info: tarfile.TarInfo) -> str | None:
        if info.size < 0:
            raise ArchiveRefused("negative size", member=name)
        if info.issym() or info.isdir():
            return None
        if info.islnk():
            source = self._hard_link_source(name, info.linkname)
            # Counted, not refused: a hard link is written as a copy of its file, so its
            # file's bytes count again. One 90 MiB file and eleven links to it write 1080 MiB.
            self._count_bytes(name, self.seen[source].size)
            return source
        if info.issparse():
            raise ArchiveRefused("sparse file", member=name)
        if info.isreg():
            self._count_bytes(name, info.size)
            return None
        raise ArchiveRefused(_special_kind(info), member=name)

    def _hard_link_source(self, name: str, linkname: str) -> str:
        try:
            source = relative_name(linkname)
        except ArchiveRefused:
            source = None
        if source is None or source not in self.seen or not self.seen[source].isreg():
            raise ArchiveRefused(
                f"hard link to {linkname}, not an earlier file of the archive", member=name
            )
        return source

    def _count_bytes(self, name: str, size: int) -> None:
        self.unpacked_bytes += size
        if self.unpacked_bytes > self.limits.max_bytes:
            raise ArchiveRefused(
                f"the archive is larger than {self.limits.max_bytes} bytes once unpacked",
                member=name,
            )


def _special_kind(info: tarfile.TarInfo) -> str:
    if info.ischr() or info.isblk():
        return "device"
    if info.isfifo():
        return "FIFO"
    return "special file"


def _check_link_target(name: str, target: str, links: set[str]) -> None:
    """Walk the target as the kernel would: it must stay inside and, because ``..`` after a
    link climbs from wherever that link points, it may pass through no other link."""
    if not target:
        raise ArchiveRefused("link without a target", member=name)
    if target.startswith("/"):
        raise ArchiveRefused(f"link to the absolute path {target}", member=name)
    if "\x00" in target:
        raise ArchiveRefused("NUL in the link target", member=name)
    stack = name.split("/")[:-1]
    components = [part for part in target.split("/") if part not in ("", ".")]
    for index, component in enumerate(components):
        if component == "..":
            if not stack:
                raise ArchiveRefused(f"link to {target} leaves the archive", member=name)
            stack.pop()
            continue
        stack.append(component)
        if index < len(components) - 1 and "/".join(stack) in links:
            raise ArchiveRefused(f"link to {target} passes through another link", member=name)
