"""Write (or check) the JSON Schema of every public contract to ``docs/schemas/<Name>.json``.

Usage::

    uv run python -m contracts.schema            # write docs/schemas/ under the repository root
    uv run python -m contracts.schema --check    # exit 1 if the committed files are stale
    uv run python -m contracts.schema --out DIR  # another directory

The schemas describe what a receiver accepts (pydantic's ``validation`` mode) with camelCase
names. Files are written with sorted keys, two-space indent and a trailing newline, so the
output only changes when a contract does.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, TypeAdapter

import contracts

__all__ = [
    "check_schemas",
    "find_repository_root",
    "main",
    "public_schema_sources",
    "render_schemas",
    "write_schemas",
]

SCHEMA_DIRECTORY = Path("docs") / "schemas"
"""Where the schemas live, relative to the repository root."""


def public_schema_sources() -> dict[str, type[BaseModel] | TypeAdapter[Any]]:
    """Every public model of :mod:`contracts`, plus the ``AgentTask`` union, by name."""
    sources: dict[str, type[BaseModel] | TypeAdapter[Any]] = {}
    for name in contracts.__all__:
        value = getattr(contracts, name)
        if isinstance(value, type) and issubclass(value, BaseModel):
            if value is contracts.ContractModel:
                continue
            sources[name] = value
    sources["AgentTask"] = contracts.AGENT_TASK_ADAPTER
    return dict(sorted(sources.items()))


def _schema_of(name: str, source: type[BaseModel] | TypeAdapter[Any]) -> dict[str, Any]:
    if isinstance(source, TypeAdapter):
        schema = source.json_schema(by_alias=True, mode="validation")
        schema.setdefault("title", name)
        return schema
    return source.model_json_schema(by_alias=True, mode="validation")


def render_schemas() -> dict[str, str]:
    """The text of every schema file, keyed by file name (``ReleaseCreateRequest.json``)."""
    return {
        f"{name}.json": json.dumps(_schema_of(name, source), indent=2, sort_keys=True) + "\n"
        for name, source in public_schema_sources().items()
    }


def write_schemas(directory: Path) -> list[Path]:
    """Write every schema into ``directory`` and delete stale ``*.json`` files; return changes."""
    directory.mkdir(parents=True, exist_ok=True)
    expected = render_schemas()
    changed: list[Path] = []
    for stale in sorted(directory.glob("*.json")):
        if stale.name not in expected:
            stale.unlink()
            changed.append(stale)
    for file_name, text in expected.items():
        path = directory / file_name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            changed.append(path)
    return changed


def check_schemas(directory: Path) -> list[str]:
    """Describe every difference between ``directory`` and the models; empty when in sync."""
    expected = render_schemas()
    problems: list[str] = []
    present = {path.name for path in directory.glob("*.json")} if directory.is_dir() else set()
    for file_name in sorted(present - expected.keys()):
        problems.append(f"{file_name}: no public contract has this name (stale file)")
    for file_name, text in expected.items():
        path = directory / file_name
        if file_name not in present:
            problems.append(f"{file_name}: missing")
        elif path.read_text(encoding="utf-8") != text:
            problems.append(f"{file_name}: differs from what the models produce")
    return problems


def find_repository_root(start: Path) -> Path | None:
    """The nearest directory at or above ``start`` that holds ``uv.lock``, or None."""
    for directory in (start, *start.parents):
        if (directory / "uv.lock").is_file():
            return directory
    return None


def _default_directory() -> Path | None:
    root = find_repository_root(Path.cwd().resolve()) or find_repository_root(
        Path(__file__).resolve().parent
    )
    return None if root is None else root / SCHEMA_DIRECTORY


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m contracts.schema",
        description="Write the JSON Schema of every public contract model.",
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="directory to write to (default: docs/schemas under the repository root)",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 when a file is missing, stale or differs",
    )
    arguments = parser.parse_args(argv)
    directory: Path | None = arguments.out or _default_directory()
    if directory is None:
        parser.error("no uv.lock found above the current directory; pass --out")
    if arguments.check:
        problems = check_schemas(directory)
        for problem in problems:
            print(f"{directory / problem}", file=sys.stderr)
        if problems:
            print(
                "JSON Schemas are out of date; run: uv run python -m contracts.schema",
                file=sys.stderr,
            )
            return 1
        print(f"{len(render_schemas())} schemas in {directory} match the models")
        return 0
    changed = write_schemas(directory)
    print(f"wrote {len(render_schemas())} schemas to {directory} ({len(changed)} changed)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
