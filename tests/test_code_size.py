"""Production code stays in small pieces: no function over 60 lines, no module over 400.

A function past 60 lines (docstring included) or a module past 400 lines is split by
responsibility. Migrations are history and are left out; tests and tools are not production.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE_ROOTS = [
    ROOT / "gcc" / "src",
    ROOT / "customer_backend" / "src",
    ROOT / "agent" / "src",
    *sorted((ROOT / "libs").glob("*/src")),
]
MAX_FUNCTION_LINES = 60
MAX_MODULE_LINES = 400


def production_modules() -> list[Path]:
    """Every module of the tiers and libraries, but for migration scripts."""
    return [
        path
        for root in SOURCE_ROOTS
        for path in sorted(root.rglob("*.py"))
        if "migrations/versions" not in path.as_posix()
    ]


def test_the_source_roots_hold_modules() -> None:
    assert len(production_modules()) > 100


def test_no_function_is_longer_than_60_lines() -> None:
    long_functions = []
    for path in production_modules():
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                assert node.end_lineno is not None
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    where = path.relative_to(ROOT)
                    long_functions.append(f"{where}:{node.lineno} {node.name} ({length} lines)")
    assert long_functions == []


def test_no_module_is_longer_than_400_lines() -> None:
    long_modules = [
        f"{path.relative_to(ROOT)} ({count} lines)"
        for path in production_modules()
        if (count := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    ]
    assert long_modules == []
