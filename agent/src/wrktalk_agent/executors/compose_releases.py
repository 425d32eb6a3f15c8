"""The directories Compose deployments run from, one per deployment, and their ``.env``.

Each deployment gets a fresh directory ``releases/<version>-<task>`` (mode 0700) holding its
safely extracted bundle and a ``.env`` of mode 0600: the bundle's own defaults, the essential
configuration from the backend, and ``<SERVICE>_IMAGE_TAG`` per image, a later source winning a
variable. Once a deployment runs, the directories of the others are wiped.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from contracts import compose_image_tag_variable
from wrktalk_agent.downloads import wipe_tree
from wrktalk_agent.executors.base import LocalRelease
from wrktalk_agent.executors.bundle_extraction import compose_file, extract_bundle

RELEASES_DIRECTORY = "releases"


@dataclass(frozen=True)
class ComposeProject:
    """An extracted release, ready for ``docker compose``."""

    release: LocalRelease
    root: Path
    """The deployment's directory under ``releases/``."""
    directory: Path
    """The directory holding the Compose file and ``.env`` (``root`` or one level down)."""
    compose_file: Path
    env_names: frozenset[str]
    """The variables ``.env`` sets."""


def merge_env_files(*sources: str) -> str:
    """``.env`` text with every ``KEY=VALUE`` of ``sources``; a later source wins a key.

    Lines are kept as written (quotes and all); comments and blank lines are dropped.
    """
    assignments: dict[str, str] = {}
    for source in sources:
        for raw in source.splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            body = line.removeprefix("export ").lstrip()
            name, separator, _ = body.partition("=")
            if not separator or not name.strip():
                continue
            assignments[name.strip()] = body
    return "".join(f"{line}\n" for line in assignments.values())


def prepare_project(
    release: LocalRelease, *, releases: Path, name: str, max_files: int, max_bytes: int
) -> ComposeProject:
    """Extract ``release`` into ``releases/name`` and write its ``.env``.

    Raises :class:`~wrktalk_agent.errors.BundleRejected` for a bundle that breaks a rule;
    nothing of it is left then.
    """
    releases.mkdir(parents=True, exist_ok=True, mode=0o700)
    releases.parent.chmod(0o700)
    root = releases / name
    if root.exists():
        wipe_tree(root)
    root.mkdir(mode=0o700)
    try:
        directory = extract_bundle(release.chart, root, max_files=max_files, max_bytes=max_bytes)
        content = _write_env(directory / ".env", release)
    except BaseException:
        wipe_tree(root)
        raise
    names = frozenset(line.split("=", 1)[0] for line in content.splitlines())
    return ComposeProject(release, root, directory, compose_file(directory), names)


def _write_env(env_path: Path, release: LocalRelease) -> str:
    bundle_defaults = ""
    if env_path.is_file() and not env_path.is_symlink():
        bundle_defaults = env_path.read_text(errors="replace")
    if env_path.exists() or env_path.is_symlink():
        env_path.unlink()
    essential = release.env.read_text(errors="replace") if release.env else ""
    tags = "".join(
        f"{compose_image_tag_variable(service)}={tag}\n"
        for service, tag in sorted(release.image_tags.items())
    )
    content = merge_env_files(bundle_defaults, essential, tags)
    descriptor = os.open(env_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(content)
    return content


def prune_releases(releases: Path, *, keep: Path) -> None:
    """Remove the directories of releases no longer running (their ``.env`` wiped)."""
    for directory in releases.iterdir():
        if directory == keep:
            continue
        if directory.is_dir() and not directory.is_symlink():
            wipe_tree(directory)
        else:
            directory.unlink(missing_ok=True)
