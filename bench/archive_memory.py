"""Peak memory of reading hostile archives: GCC's upload check and the agent's extraction.

Each archive of the hostile corpus (``wrktalk_testing.hostile_archives``: traversal, links,
devices, long-name and PAX headers of 64 MiB, sparse maps, hard-link amplification, gzip
bombs, 2,000+ entries) is read in a fresh process, twice: by GCC's upload check
(``gcc.artifacts.archive.check_artifact``) and by the agent's extraction
(``wrktalk_agent.executors.bundle_extraction.extract_bundle``). The anchor, in the same run, is
a plain Compose bundle of the same shape holding a 64 MiB file, which both accept.

Each child reports how far its resident memory rose above its size after the imports
(``VmHWM``, the kernel's high-water mark, reset once the imports are done) and how long the
read took. With ``--unbounded``, each case is also read by plain ``tarfile`` (every member
listed) under an address-space limit of ``--limit-mib``, to show what the bounds prevent; a
read that hits the limit prints ``MemoryError``.

The exit status is 1 when any hostile case makes either reader grow by ``--ceiling-mib`` or
more, or is accepted.

    uv run python bench/archive_memory.py [--ceiling-mib 48] [--unbounded] [--limit-mib 1024]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from wrktalk_testing.hostile_archives import (
    HOSTILE_ARCHIVES,
    MIB,
    build_hostile_corpus,
    bundle,
    filler,
    header,
    write_gzip,
)

READERS = {
    "gcc": """
from gcc.artifacts.archive import check_artifact
from contracts import ArtifactType, Version
def read(path):
    check_artifact(path, ArtifactType.COMPOSE, Version.parse("2.3.0"))
""",
    "agent": """
import tempfile
from wrktalk_agent.executors.bundle_extraction import extract_bundle
def read(path):
    with tempfile.TemporaryDirectory() as destination:
        extract_bundle(path, Path(destination), max_files=2000, max_bytes=100 * 1024 * 1024)
""",
    "tarfile": """
import resource, tarfile
limit = int(sys.argv[2]) * 1024 * 1024
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
def read(path):
    with tarfile.open(path) as archive:
        archive.getmembers()
""",
}

MEASURE = """
import json, sys, time
from pathlib import Path
{reader}

def status_kib(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(field)

path = Path(sys.argv[1])
before = status_kib("VmRSS")
Path("/proc/self/clear_refs").write_text("5")
started = time.perf_counter()
try:
    read(path)
    outcome = "accepted"
except MemoryError:
    outcome = "MemoryError"
except Exception as exc:
    outcome = f"refused: {{exc}}"
elapsed = time.perf_counter() - started
print(json.dumps({{"growth_kib": status_kib("VmHWM") - before, "seconds": elapsed,
                  "outcome": outcome}}))
"""


def measure(reader: str, path: Path, limit_mib: int) -> dict[str, object]:
    """Read ``path`` with ``reader`` in a child process; its growth, time and outcome."""
    script = MEASURE.format(reader=READERS[reader])
    finished = subprocess.run(
        [sys.executable, "-c", script, str(path), str(limit_mib)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if finished.returncode != 0 or not finished.stdout.strip():
        return {"growth_kib": 0, "seconds": 0.0, "outcome": f"crashed: {finished.stderr[-200:]}"}
    result: dict[str, object] = json.loads(finished.stdout.strip().splitlines()[-1])
    return result


def anchor_bundle(path: Path) -> Path:
    """A valid Compose bundle holding a 64 MiB file: what an honest large bundle costs."""
    return write_gzip(path, bundle(header("data.bin", size=64 * MIB), *filler(64 * MIB)))


def row(name: str, reader: str, result: dict[str, object]) -> str:
    growth = int(str(result["growth_kib"])) / 1024
    seconds = float(str(result["seconds"]))
    outcome = str(result["outcome"])[:70]
    return f"{name:34} {reader:8} {growth:9.1f} MiB {seconds:8.3f} s  {outcome}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ceiling-mib", type=int, default=48)
    parser.add_argument("--unbounded", action="store_true", help="also read with plain tarfile")
    parser.add_argument("--limit-mib", type=int, default=1024, help="plain tarfile's limit")
    arguments = parser.parse_args()
    readers = ["gcc", "agent", *(["tarfile"] if arguments.unbounded else [])]
    failures = []
    with tempfile.TemporaryDirectory() as work:
        directory = Path(work)
        corpus = build_hostile_corpus(directory / "hostile")
        anchor = anchor_bundle(directory / "anchor.tar.gz")
        print(f"{'archive':34} {'reader':8} {'peak growth':>13} {'time':>10}  outcome")
        for reader in readers:
            print(
                row("anchor (64 MiB, valid)", reader, measure(reader, anchor, arguments.limit_mib))
            )
        for case in HOSTILE_ARCHIVES:
            size = corpus[case.name].stat().st_size
            for reader in readers:
                result = measure(reader, corpus[case.name], arguments.limit_mib)
                print(row(f"{case.name} ({size // 1024} KiB)", reader, result))
                if reader == "tarfile":
                    continue
                growth_mib = int(str(result["growth_kib"])) / 1024
                if growth_mib >= arguments.ceiling_mib or not str(result["outcome"]).startswith(
                    "refused"
                ):
                    failures.append(f"{case.name} ({reader})")
    if failures:
        print(f"over {arguments.ceiling_mib} MiB or not refused: {', '.join(failures)}")
        return 1
    print(f"every hostile archive refused by both readers under {arguments.ceiling_mib} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
