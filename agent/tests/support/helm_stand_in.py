"""A stand-in ``helm`` on PATH, for the commands that need a Kubernetes API server (and the
same recorder as ``docker`` for the Compose v2 plugin, which Debian does not ship).

It records its arguments (one JSON line per call) and plays back what a real helm printed and
exited with, chosen by the first arguments (``upgrade``, ``history``, ...). The recordings
below are helm's own wording for each situation.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HELM3_VERSION = "v3.18.4"
HELM4_VERSION = "v4.1.4"

HELM3_ROLLED_BACK = (
    "Error: UPGRADE FAILED: release wrktalk failed, and has been rolled back due to atomic "
    "being set: context deadline exceeded\n"
)
HELM4_ROLLED_BACK = (
    "Error: UPGRADE FAILED: release wrktalk failed, and has been rolled back due to "
    "rollback-on-failure being set: resource Deployment/wrktalk/wrktalk-backend not ready. "
    "status: InProgress, message: Available: 0/1\n"
)
INVALID_CHART = (
    "Error: UPGRADE FAILED: template: wrktalk/templates/backend.yaml:12:20: executing "
    '"wrktalk/templates/backend.yaml" at <.Values.backend.image.repository>: nil pointer '
    "evaluating interface {}.repository\n"
)
ROLLBACK_DONE = "Rollback was a success! Happy Helming!\n"
# An image that cannot be pulled (ImagePullBackOff): helm's --wait never names the pull error,
# it gives up when the timeout runs out. Helm 4 names the resource that is not ready; helm 3,
# on a first install with --atomic, uninstalls instead of rolling back.
HELM4_IMAGE_PULL_FAILED = (
    "Error: UPGRADE FAILED: release wrktalk failed, and has been rolled back due to "
    "rollback-on-failure being set: resource Deployment/wrktalk/wrktalk-media not ready. "
    "status: InProgress, message: Available: 0/1\n"
)
HELM3_INSTALL_IMAGE_PULL_FAILED = (
    "Error: INSTALLATION FAILED: release wrktalk failed, and has been uninstalled due to "
    "atomic being set: context deadline exceeded\n"
)


def history(revision: int, version: str, *, description: str = "Upgrade complete") -> str:
    """``helm history --output json`` of one revision."""
    return json.dumps(
        [
            {
                "revision": revision,
                "updated": "2026-06-01T12:00:00.000000000Z",
                "status": "deployed",
                "chart": f"wrktalk-{version}",
                "app_version": version,
                "description": description,
            }
        ]
    )


def release_json(revision: int, version: str) -> str:
    """What ``helm upgrade --output json`` prints (trimmed to the fields the agent reads)."""
    return json.dumps(
        {
            "name": "wrktalk",
            "info": {"status": "deployed", "description": "Upgrade complete"},
            "chart": {"metadata": {"name": "wrktalk", "version": version, "appVersion": version}},
            "config": {"backend": {"image": {"tag": "sha-b"}}, "secretKey": "hunter2"},
            "manifest": "---\nkind: Secret\ndata:\n  key: aHVudGVyMg==\n",
            "version": revision,
            "namespace": "wrktalk",
        }
    )


@dataclass
class Play:
    """One recorded answer: for calls whose arguments start with ``prefix``."""

    prefix: list[str]
    exit_code: int = 0
    stdout: str = ""
    stderr: str = ""
    sleep: float = 0.0
    """Seconds to take (a slow upgrade), after creating the ``started`` file."""
    hold: bool = False
    """Take until the test calls :meth:`HelmStandIn.release` (at most a minute), after
    creating the ``started`` file."""


@dataclass
class HelmStandIn:
    """The script's directory (put it first on PATH), its playbook and its call log."""

    directory: Path
    plays: list[Play] = field(default_factory=list)

    @property
    def calls_file(self) -> Path:
        return self.directory / "calls.jsonl"

    @property
    def started_file(self) -> Path:
        """Exists once a slow play has started."""
        return self.directory / "started"

    def release(self) -> None:
        """Let a held call finish."""
        (self.directory / "release").touch()

    def play(self, *prefix: str, **answer: Any) -> None:
        """Answer calls starting with ``prefix`` like this (earlier plays win)."""
        self.plays.append(Play(list(prefix), **answer))
        self._write_playbook()

    def calls(self) -> list[list[str]]:
        """The argument lists helm was called with, in order (without ``helm`` itself)."""
        if not self.calls_file.exists():
            return []
        return [json.loads(line) for line in self.calls_file.read_text().splitlines()]

    def _write_playbook(self) -> None:
        (self.directory / "playbook.json").write_text(
            json.dumps([play.__dict__ for play in self.plays])
        )


SCRIPT = """#!{python}
import json, os, sys, time
here = os.path.dirname(os.path.abspath(__file__))
arguments = sys.argv[1:]
with open(os.path.join(here, "calls.jsonl"), "a") as calls:
    calls.write(json.dumps(arguments) + "\\n")
with open(os.path.join(here, "playbook.json")) as playbook:
    plays = json.load(playbook)
for play in plays:
    if arguments[: len(play["prefix"])] == play["prefix"]:
        if play["sleep"] or play["hold"]:
            open(os.path.join(here, "started"), "w").close()
            time.sleep(play["sleep"])
            deadline = time.monotonic() + 60
            while play["hold"] and time.monotonic() < deadline:
                if os.path.exists(os.path.join(here, "release")):
                    break
                time.sleep(0.02)
        sys.stdout.write(play["stdout"])
        sys.stderr.write(play["stderr"])
        sys.exit(play["exit_code"])
sys.stderr.write("helm stand-in: no recording for %r\\n" % (arguments,))
sys.exit(99)
"""


def install_stand_in(directory: Path, *, version: str) -> HelmStandIn:
    """Write the ``helm`` script into ``directory`` answering ``version`` to ``helm version``."""
    stand_in = install_recorder(directory, "helm")
    stand_in.play("version", stdout=version)
    return stand_in


def install_recorder(directory: Path, name: str) -> HelmStandIn:
    """Write a recording stand-in called ``name`` into ``directory``, with no plays yet."""
    directory.mkdir(parents=True, exist_ok=True)
    script = directory / name
    script.write_text(SCRIPT.format(python=sys.executable))
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    stand_in = HelmStandIn(directory)
    stand_in._write_playbook()
    return stand_in


def path_with(directory: Path) -> str:
    """PATH with ``directory`` first."""
    return f"{directory}{os.pathsep}{os.environ.get('PATH', '')}"
