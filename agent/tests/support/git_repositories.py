"""Git working copies the GitOps executor pushes to: a real bare remote on disk."""

from __future__ import annotations

import subprocess
from pathlib import Path

_IDENTITY = {
    "GIT_AUTHOR_NAME": "Ops",
    "GIT_AUTHOR_EMAIL": "ops@acme.example",
    "GIT_COMMITTER_NAME": "Ops",
    "GIT_COMMITTER_EMAIL": "ops@acme.example",
    "PATH": "/usr/bin:/bin",
}


def git(repository: Path, *arguments: str) -> str:
    """Run git in ``repository`` as the operator and return its output."""
    return subprocess.run(
        ["git", "-C", str(repository), *arguments],
        capture_output=True,
        text=True,
        check=True,
        env=_IDENTITY,
    ).stdout.strip()


def make_working_copy(directory: Path) -> Path:
    """A working copy on branch main with one commit, cloned from a bare remote."""
    remote = directory / "remote.git"
    subprocess.run(["git", "init", "--quiet", "--bare", "-b", "main", str(remote)], check=True)
    repository = directory / "cluster-config"
    subprocess.run(["git", "clone", "--quiet", str(remote), str(repository)], check=True)
    git(repository, "checkout", "--quiet", "-b", "main")
    (repository / "README.md").write_text("Manifests synced by Argo CD\n")
    git(repository, "add", "README.md")
    git(repository, "commit", "--quiet", "-m", "Start")
    git(repository, "push", "--quiet", "origin", "main")
    return repository
