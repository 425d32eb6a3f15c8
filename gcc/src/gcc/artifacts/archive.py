"""Checking that an uploaded archive is what its type says: a Helm chart or a Compose bundle.

Both are gzip-compressed tar archives. A Helm chart (``helm package``) holds
``<chart>/Chart.yaml`` whose ``version`` must be the release version; a Compose bundle holds a
Compose file at its top or one directory down. The whole archive is read, so a truncated or
corrupt upload is refused, within limits that stop a small archive from unpacking into an
unbounded amount of work.
"""

from __future__ import annotations

import gzip
import tarfile
import zlib
from pathlib import Path
from typing import IO, Any, Final

import yaml

from contracts import ArtifactType, InvalidVersionError, Version

GZIP_MAGIC: Final = b"\x1f\x8b"
CHART_FILE: Final = "Chart.yaml"
COMPOSE_FILES: Final = frozenset(
    {"docker-compose.yaml", "docker-compose.yml", "compose.yaml", "compose.yml"}
)
MAX_MANIFEST_BYTES: Final = 1024 * 1024
"""Largest Chart.yaml or Compose file read."""
MAX_MEMBERS: Final = 100_000
"""Most entries an archive may hold."""
UNPACKED_RATIO: Final = 200
"""An archive may unpack to at most this many times its size (plus a fixed allowance)."""
UNPACKED_ALLOWANCE: Final = 256 * 1024 * 1024


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


def _member_parts(member: tarfile.TarInfo) -> list[str]:
    return [part for part in member.name.split("/") if part not in ("", ".")]


def _read_manifest(archive: tarfile.TarFile, member: tarfile.TarInfo) -> Any:
    if member.size > MAX_MANIFEST_BYTES:
        raise ArchiveRejected(f"{member.name} is larger than {MAX_MANIFEST_BYTES} bytes")
    handle: IO[bytes] | None = archive.extractfile(member)
    if handle is None:
        raise ArchiveRejected(f"{member.name} cannot be read")
    try:
        return yaml.safe_load(handle.read())
    except yaml.YAMLError as exc:
        raise ArchiveRejected(f"{member.name} is not valid YAML: {exc}") from None


def _scan(path: Path, wanted: Any) -> None:
    """Read every member of the archive at ``path``, handing each to ``wanted``."""
    budget = path.stat().st_size * UNPACKED_RATIO + UNPACKED_ALLOWANCE
    unpacked = 0
    count = 0
    try:
        # gzip, not tarfile's own "r|gz": Python 3.11's stream reader mis-reads the gzip
        # FEXTRA field that `helm package` writes, and refuses every real chart.
        with (
            gzip.open(path, "rb") as compressed,
            tarfile.open(fileobj=compressed, mode="r|") as archive,
        ):
            for member in archive:
                count += 1
                unpacked += member.size
                if count > MAX_MEMBERS:
                    raise ArchiveRejected(f"the archive holds more than {MAX_MEMBERS} entries")
                if unpacked > budget:
                    raise ArchiveRejected("the archive unpacks to far more than its size")
                wanted(archive, member)
    except ArchiveRejected:
        raise
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise ArchiveRejected(f"the file is not a readable gzip tar archive ({exc})") from None
    if count == 0:
        raise ArchiveRejected("the archive is empty")


def _check_helm_chart(path: Path, version: Version) -> None:
    charts: list[Any] = []

    def wanted(archive: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        parts = _member_parts(member)
        if len(parts) == 2 and parts[1] == CHART_FILE and member.isfile():
            charts.append(_read_manifest(archive, member))

    _scan(path, wanted)
    if not charts:
        raise ArchiveRejected(f"the archive holds no <chart>/{CHART_FILE}")
    if len(charts) > 1:
        raise ArchiveRejected(f"the archive holds more than one <chart>/{CHART_FILE}")
    chart = charts[0]
    if not isinstance(chart, dict) or "version" not in chart:
        raise ArchiveRejected(f"{CHART_FILE} has no version")
    raw = str(chart["version"])
    try:
        chart_version = Version.parse(raw)
    except InvalidVersionError:
        raise ArchiveRejected(f"{CHART_FILE} version {raw!r} is not a semantic version") from None
    if str(chart_version) != str(version):
        raise ArchiveRejected(
            f"{CHART_FILE} says version {chart_version}, but the upload is for {version}"
        )


def _check_compose_bundle(path: Path) -> None:
    found: list[str] = []

    def wanted(archive: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        parts = _member_parts(member)
        if 1 <= len(parts) <= 2 and parts[-1] in COMPOSE_FILES and member.isfile():
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
