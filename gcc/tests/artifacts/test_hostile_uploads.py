"""GCC answers every archive of the hostile corpus with 422 naming the bad member, and its API
process stays small while it checks them.

GCC is served in a process of its own, so its peak resident memory can be read after each
upload (and reset before the next): an upload that amplified memory (a tar header read whole,
a sparse map without end) fails the ceiling even if it were refused in the end.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from gcc.settings import Settings
from wrktalk_testing.hostile_archives import (
    HOSTILE_ARCHIVES,
    HostileArchive,
    build_hostile_corpus,
    bundle,
    file_member,
    write_gzip,
)
from wrktalk_testing.network import free_port
from wrktalk_testing.peak_memory import peak_rss_bytes, reset_peak_rss, rss_bytes

MIB = 1024 * 1024
HEADROOM = 48 * MIB
"""How much memory checking one upload may add to the API process."""

SERVE = """
import json, sys
import uvicorn
from gcc.app import create_app
from gcc.settings import Settings

settings = Settings(**json.loads(sys.argv[1]))
uvicorn.run(create_app(settings), host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
"""

CHART_WITH_AN_ALIAS_BOMB = b"""apiVersion: v2
name: wrktalk
a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
version: [*h, *h, *h, *h, *h, *h, *h, *h, *h]
"""


@dataclass(frozen=True)
class ServedGcc:
    """The GCC API in its own process."""

    pid: int
    client: httpx.Client

    def upload(self, archive: Path, artifact_type: str = "compose") -> tuple[httpx.Response, int]:
        """Upload ``archive`` as CI; the answer and how much memory the process added."""
        reset_peak_rss(self.pid)
        before = rss_bytes(self.pid)
        with archive.open("rb") as content:
            response = self.client.post(
                "/api/internal/artifacts",
                files={"file": (archive.name, content, "application/gzip")},
                data={"type": artifact_type, "version": "2.3.0"},
            )
        return response, peak_rss_bytes(self.pid) - before


def settings_values(settings: Settings) -> dict[str, object]:
    """The settings as plain JSON values, secrets included, for another process."""
    return {
        name: value.get_secret_value() if isinstance(value, SecretStr) else value
        for name, value in settings
    }


def wait_until_ready(client: httpx.Client, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, "GCC stopped during start-up"
        try:
            if client.get("/healthz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise TimeoutError("GCC did not start in time")


@pytest.fixture(scope="module")
def served_gcc(
    gcc_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServedGcc]:
    """GCC in its own process, warmed up by one accepted upload."""
    work = tmp_path_factory.mktemp("served-gcc")
    port = free_port()
    values = json.dumps(settings_values(gcc_settings), default=str)
    with (work / "gcc.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-c", SERVE, values, str(port)],
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    ci_headers = {"Authorization": f"Bearer {gcc_settings.ci_token.get_secret_value()}"}
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=ci_headers, timeout=60)
    try:
        wait_until_ready(client, process)
        served = ServedGcc(process.pid, client)
        response, _ = served.upload(write_gzip(work / "plain.tar.gz", bundle()))
        assert response.status_code == 200, response.text
        yield served
    finally:
        client.close()
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            # Still busy in a worker thread (an amplifying upload): stop it outright.
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return build_hostile_corpus(tmp_path_factory.mktemp("hostile"))


def assert_refused(response: httpx.Response, reason: str) -> None:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "invalid_input"
    assert body["field"] == "file"
    assert reason in body["detail"]


@pytest.mark.parametrize("case", HOSTILE_ARCHIVES, ids=lambda case: case.name)
def test_each_hostile_bundle_is_refused_with_422_in_bounded_memory(
    served_gcc: ServedGcc, corpus: dict[str, Path], case: HostileArchive
) -> None:
    response, growth = served_gcc.upload(corpus[case.name])
    assert growth < HEADROOM, f"{growth // MIB} MiB more, over {HEADROOM // MIB} MiB"
    assert_refused(response, case.refusal)


def test_a_chart_is_held_to_the_same_rules(served_gcc: ServedGcc, tmp_path: Path) -> None:
    chart = write_gzip(
        tmp_path / "chart.tgz",
        bundle(
            file_member("wrktalk/Chart.yaml", b"apiVersion: v2\nname: wrktalk\nversion: 2.3.0\n"),
            file_member("wrktalk/../../escape", b"x"),
        ),
    )
    response, _ = served_gcc.upload(chart, artifact_type="helm")
    assert_refused(response, "wrktalk/../../escape: '..' in the path")


def test_a_chart_version_built_from_yaml_aliases_is_refused_in_bounded_memory(
    served_gcc: ServedGcc, tmp_path: Path
) -> None:
    chart = write_gzip(
        tmp_path / "chart.tgz", bundle(file_member("wrktalk/Chart.yaml", CHART_WITH_AN_ALIAS_BOMB))
    )
    response, growth = served_gcc.upload(chart, artifact_type="helm")
    assert growth < HEADROOM, f"{growth // MIB} MiB more, over {HEADROOM // MIB} MiB"
    assert_refused(response, "version is not a string")
