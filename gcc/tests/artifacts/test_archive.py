"""What counts as a Helm chart or a Compose bundle."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from pathlib import Path

import pytest

from contracts import ArtifactType, Version
from gcc.artifacts.archive import ArchiveRejected, check_artifact

ArchiveBuilder = Callable[[dict[str, str | bytes]], bytes]


def write(tmp_path: Path, content: bytes) -> Path:
    path = tmp_path / "artifact.tgz"
    path.write_bytes(content)
    return path


def test_packaged_chart_of_the_same_version_is_accepted(
    tmp_path: Path, helm_chart: Callable[[str], bytes]
) -> None:
    check_artifact(write(tmp_path, helm_chart("2.3.0")), ArtifactType.HELM, Version.parse("2.3.0"))


def test_chart_version_with_a_v_prefix_matches_the_plain_version(
    tmp_path: Path, archive: ArchiveBuilder
) -> None:
    content = archive({"wrktalk/Chart.yaml": "apiVersion: v2\nname: wrktalk\nversion: v2.3.0\n"})
    check_artifact(write(tmp_path, content), ArtifactType.HELM, Version.parse("2.3.0"))


@pytest.mark.parametrize(
    ("files", "reason"),
    [
        ({"wrktalk/values.yaml": "a: 1\n"}, "no <chart>/Chart.yaml"),
        ({"Chart.yaml": "version: 2.3.0\n"}, "no <chart>/Chart.yaml"),
        ({"wrktalk/Chart.yaml": "apiVersion: v2\nname: wrktalk\nversion: 2.2.0\n"}, "2.2.0"),
        ({"wrktalk/Chart.yaml": "apiVersion: v2\nname: wrktalk\n"}, "has no version"),
        ({"wrktalk/Chart.yaml": "version: [unclosed\n"}, "not valid YAML"),
        ({"wrktalk/Chart.yaml": "version: banana\n"}, "not a semantic version"),
        (
            {"a/Chart.yaml": "version: 2.3.0\n", "b/Chart.yaml": "version: 2.3.0\n"},
            "more than one",
        ),
    ],
)
def test_chart_without_a_matching_chart_yaml_is_rejected(
    tmp_path: Path, archive: ArchiveBuilder, files: dict[str, str | bytes], reason: str
) -> None:
    with pytest.raises(ArchiveRejected, match=reason.replace("[", r"\[")):
        check_artifact(write(tmp_path, archive(files)), ArtifactType.HELM, Version.parse("2.3.0"))


def test_file_that_is_not_gzip_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ArchiveRejected, match="not a gzip"):
        check_artifact(
            write(tmp_path, b"PK\x03\x04 a zip file"), ArtifactType.HELM, Version.parse("2.3.0")
        )


def test_gzip_that_is_not_a_tar_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ArchiveRejected, match="not a readable gzip tar"):
        check_artifact(
            write(tmp_path, gzip.compress(b"just some text" * 100)),
            ArtifactType.HELM,
            Version.parse("2.3.0"),
        )


def test_truncated_archive_is_rejected(tmp_path: Path, archive: ArchiveBuilder) -> None:
    content = archive(
        {"wrktalk/Chart.yaml": "version: 2.3.0\n", "wrktalk/big.bin": bytes(range(256)) * 4000}
    )
    with pytest.raises(ArchiveRejected, match="not a readable gzip tar"):
        check_artifact(
            write(tmp_path, content[: len(content) // 2]),
            ArtifactType.HELM,
            Version.parse("2.3.0"),
        )


@pytest.mark.parametrize(
    "name",
    [
        "docker-compose.yaml",
        "./compose.yml",
        "wrktalk/docker-compose.yml",
        "wrktalk/compose.yaml",
    ],
)
def test_compose_file_at_the_top_or_one_directory_down_is_accepted(
    tmp_path: Path, archive: ArchiveBuilder, name: str
) -> None:
    content = archive({name: "services:\n  backend:\n    image: busybox\n"})
    check_artifact(write(tmp_path, content), ArtifactType.COMPOSE, Version.parse("2.3.0"))


@pytest.mark.parametrize(
    ("files", "reason"),
    [
        ({"wrktalk/README.md": "hello"}, "no Compose file"),
        ({"a/b/docker-compose.yaml": "services: {}\n"}, "no Compose file"),
        ({"docker-compose.yaml": "- a list\n"}, "not a mapping"),
    ],
)
def test_bundle_without_a_compose_file_is_rejected(
    tmp_path: Path, archive: ArchiveBuilder, files: dict[str, str | bytes], reason: str
) -> None:
    with pytest.raises(ArchiveRejected, match=reason):
        check_artifact(
            write(tmp_path, archive(files)), ArtifactType.COMPOSE, Version.parse("2.3.0")
        )
