"""Checking that an uploaded archive is what its type says: a Helm chart or a Compose bundle.

Both are gzip-compressed tar archives. A Helm chart (``helm package``) holds
``<chart>/Chart.yaml`` whose ``version`` must be the release version; a Compose bundle holds a
Compose file at its top or one directory down. The whole archive is read, so a truncated or
corrupt upload is refused, and every member is held to the rules the agent extracts a bundle
by (:mod:`archivesafety`, the same code): GCC never stores an archive an agent would refuse,
and a small archive cannot unpack into an unbounded amount of work or memory here either.
"""

from __future__ import annotations

import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, Final

import yaml

from archivesafety import (
    READ_ERRORS,
    ArchiveRefused,
    ArchiveUnreadable,
    SafeMember,
    open_archive,
    safe_members,
)
from contracts import ArtifactType, InvalidVersionError, Version

GZIP_MAGIC: Final = b"\x1f\x8b"
CHART_FILE: Final = "Chart.yaml"
COMPOSE_FILES: Final = frozenset(
    {"docker-compose.yaml", "docker-compose.yml", "compose.yaml", "compose.yml"}
)
MAX_MANIFEST_BYTES: Final = 1024 * 1024
"""Largest Chart.yaml or Compose file read."""

MemberHandler = Callable[[tarfile.TarFile, SafeMember], None]


class ArchiveRejected(ValueError):
    """The archive is not an acceptable artifact; the message says why."""


def check_artifact(path: Path, artifact_type: ArtifactType, version: Version) -> None:
    """Raise :class:`ArchiveRejected` unless ``path`` is a valid artifact of that type."""
    with path.open("rb") as handle:
        if handle.read(2) != GZIP_MAGIC:
            raise ArchiveRejected("the file is not a gzip-compressed archive")
    if artifact_type is ArtifactType.HELM:
        _check_helm_chart(path, version)
    else:
        _check_compose_bundle(path)


def _read_manifest(archive: tarfile.TarFile, member: SafeMember) -> Any:
    if member.info.size > MAX_MANIFEST_BYTES:
        raise ArchiveRejected(f"{member.name} is larger than {MAX_MANIFEST_BYTES} bytes")
    handle: IO[bytes] | None = archive.extractfile(member.info)
    if handle is None:
        raise ArchiveRejected(f"{member.name} cannot be read")
    try:
        return yaml.safe_load(handle.read())
    except yaml.YAMLError as exc:
        raise ArchiveRejected(f"{member.name} is not valid YAML: {exc}") from None


def _scan(path: Path, wanted: MemberHandler) -> None:
    """Read every member of the archive at ``path``, handing each to ``wanted``."""
    count = 0
    try:
        with open_archive(path) as archive:
            for member in safe_members(archive):
                count += 1
                wanted(archive, member)
    except ArchiveUnreadable as exc:
        raise ArchiveRejected(
            f"the file is not a readable gzip tar archive ({exc.detail})"
        ) from None
    except ArchiveRefused as exc:
        raise ArchiveRejected(str(exc)) from None
    except READ_ERRORS as exc:
        # A manifest read by ``wanted`` can meet the damage first.
        raise ArchiveRejected(f"the file is not a readable gzip tar archive ({exc})") from None
    if count == 0:
        raise ArchiveRejected("the archive is empty")


def _check_helm_chart(path: Path, version: Version) -> None:
    charts: list[Any] = []

    def wanted(archive: tarfile.TarFile, member: SafeMember) -> None:
        parts = member.name.split("/")
        if len(parts) == 2 and parts[1] == CHART_FILE and member.info.isfile():
            charts.append(_read_manifest(archive, member))

    _scan(path, wanted)
    if not charts:
        raise ArchiveRejected(f"the archive holds no <chart>/{CHART_FILE}")
    if len(charts) > 1:
        raise ArchiveRejected(f"the archive holds more than one <chart>/{CHART_FILE}")
    chart = charts[0]
    if not isinstance(chart, dict) or "version" not in chart:
        raise ArchiveRejected(f"{CHART_FILE} has no version")
    raw = chart["version"]
    # A scalar only: str() of a nested value built from YAML aliases can take gigabytes.
    if not isinstance(raw, str | int | float):
        raise ArchiveRejected(f"{CHART_FILE} version is not a string")
    try:
        chart_version = Version.parse(str(raw))
    except InvalidVersionError:
        raise ArchiveRejected(f"{CHART_FILE} version {raw!r} is not a semantic version") from None
    if str(chart_version) != str(version):
        raise ArchiveRejected(
            f"{CHART_FILE} says version {chart_version}, but the upload is for {version}"
        )


def _check_compose_bundle(path: Path) -> None:
    found: list[str] = []

    def wanted(archive: tarfile.TarFile, member: SafeMember) -> None:
        parts = member.name.split("/")
        if 1 <= len(parts) <= 2 and parts[-1] in COMPOSE_FILES and member.info.isfile():
            document = _read_manifest(archive, member)
            if not isinstance(document, dict):
                raise ArchiveRejected(f"{member.name} is not a Compose file (not a mapping)")
            found.append(member.name)

    _scan(path, wanted)
    if not found:
        names = ", ".join(sorted(COMPOSE_FILES))
        raise ArchiveRejected(
            f"the archive holds no Compose file ({names}) at its top or one directory down"
        )
