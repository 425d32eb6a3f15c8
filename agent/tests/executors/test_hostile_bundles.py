"""The agent refuses every archive of the hostile corpus, writes nothing, and stays small.

One process imports the agent once, then extracts each bundle in a process forked for it,
with the agent's default limits; the forked process measures its own peak resident memory
from the fork on. A bundle that amplified memory (a tar header read whole, a sparse map
without end) fails the ceiling even if it were refused in the end.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from archivesafety import MAX_BYTES, MAX_ENTRIES
from wrktalk_agent.settings import Settings
from wrktalk_testing.hostile_archives import (
    HOSTILE_ARCHIVES,
    HostileArchive,
    build_hostile_corpus,
    bundle,
    write_gzip,
)

MIB = 1024 * 1024
HEADROOM = 48 * MIB
"""How much memory extracting one bundle may add to the process."""

# Reads one JSON line [archive, destination] at a time; answers one JSON line each.
EXTRACTOR = """
import json, os, sys
from pathlib import Path
from archivesafety import MAX_BYTES, MAX_ENTRIES
from wrktalk_agent.errors import BundleRejected
from wrktalk_agent.executors.bundle_extraction import extract_bundle
from wrktalk_testing.peak_memory import peak_rss_bytes, reset_peak_rss, rss_bytes


def extract(archive, destination):
    reset_peak_rss()
    start = rss_bytes()
    try:
        extract_bundle(
            Path(archive), Path(destination), max_files=MAX_ENTRIES, max_bytes=MAX_BYTES
        )
        refusal = None
    except BundleRejected as exc:
        refusal = str(exc)
    return {"refusal": refusal, "growth": peak_rss_bytes() - start}


for line in sys.stdin:
    pid = os.fork()
    if pid == 0:
        try:
            report = extract(*json.loads(line))
        except BaseException as exc:
            report = {"error": repr(exc)}
        sys.stdout.write(json.dumps(report) + "\\n")
        sys.stdout.flush()
        os._exit(0)
    os.waitpid(pid, 0)
"""

Extractor = Callable[[Path, Path], dict[str, Any]]


@pytest.fixture(scope="module")
def extractor() -> Iterator[Extractor]:
    """Extract a bundle in a forked process; its refusal (or None) and its memory growth."""
    process = subprocess.Popen(
        [sys.executable, "-c", EXTRACTOR], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    requests, answers = process.stdin, process.stdout
    assert requests is not None
    assert answers is not None

    def extract(archive: Path, destination: Path) -> dict[str, Any]:
        destination.mkdir(parents=True)
        requests.write(json.dumps([str(archive), str(destination)]) + "\n")
        requests.flush()
        report: dict[str, Any] = json.loads(answers.readline())
        assert "error" not in report, report["error"]
        return report

    yield extract
    requests.close()
    process.wait(timeout=30)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return build_hostile_corpus(tmp_path_factory.mktemp("hostile"))


def test_a_plain_bundle_is_extracted_by_the_same_process(
    tmp_path: Path, extractor: Extractor
) -> None:
    report = extractor(write_gzip(tmp_path / "plain.tar.gz", bundle()), tmp_path / "out")
    assert report["refusal"] is None
    assert (tmp_path / "out" / "docker-compose.yml").is_file()


@pytest.mark.parametrize("case", HOSTILE_ARCHIVES, ids=lambda case: case.name)
def test_each_hostile_bundle_is_refused_in_bounded_memory_and_writes_nothing(
    tmp_path: Path, corpus: dict[str, Path], extractor: Extractor, case: HostileArchive
) -> None:
    destination = tmp_path / "site" / "release"
    report = extractor(corpus[case.name], destination)
    growth = report["growth"]
    assert growth < HEADROOM, f"{growth // MIB} MiB more, over {HEADROOM // MIB} MiB"
    assert report["refusal"] is not None, "extracted"
    assert case.refusal in report["refusal"]
    assert list(destination.iterdir()) == []
    assert [path.name for path in (tmp_path / "site").iterdir()] == ["release"]


def test_the_agent_limits_by_default_are_the_ones_gcc_checks_uploads_with() -> None:
    # GCC refuses at upload what an agent with its default settings would refuse.
    assert Settings.model_fields["bundle_max_files"].default == MAX_ENTRIES
    assert Settings.model_fields["bundle_max_bytes"].default == MAX_BYTES
