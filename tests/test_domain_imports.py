"""The domain folders of each service import each other without a cycle.

Each domain owns its tables and rules; where two domains need each other, one of them owns the
rule and the other calls it. This test reads every import statement of the domain folders and
fails on a cycle of any length between two or more of them, naming the files that close it.
"""

from __future__ import annotations

import ast
import itertools
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SERVICES = {
    "gcc": ROOT / "gcc" / "src" / "gcc",
    "customer_backend": ROOT / "customer_backend" / "src" / "customer_backend",
}
NOT_DOMAINS = {"migrations"}

Edges = dict[str, dict[str, set[str]]]


def domain_folders(package_dir: Path) -> list[str]:
    """The service's domain folders: its sub-packages, but for migrations."""
    return sorted(
        path.name
        for path in package_dir.iterdir()
        if path.is_dir() and (path / "__init__.py").exists() and path.name not in NOT_DOMAINS
    )


def imported_modules(source: Path) -> list[str]:
    """Every module an import statement of ``source`` names (``from a import b`` gives a.b)."""
    modules: list[str] = []
    for node in ast.walk(ast.parse(source.read_text(), filename=str(source))):
        if isinstance(node, ast.Import):
            modules.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.append(node.module)
            modules.extend(f"{node.module}.{alias.name}" for alias in node.names)
    return modules


def domain_edges(package: str, package_dir: Path) -> Edges:
    """For each domain, the other domains it imports and the files that import them."""
    domains = set(domain_folders(package_dir))
    edges: Edges = {domain: {} for domain in domains}
    for domain in domains:
        for source in sorted((package_dir / domain).rglob("*.py")):
            for module in imported_modules(source):
                parts = module.split(".")
                if len(parts) < 2 or parts[0] != package or parts[1] not in domains:
                    continue
                if parts[1] != domain:
                    where = str(source.relative_to(package_dir))
                    edges[domain].setdefault(parts[1], set()).add(where)
    return edges


def find_cycle(edges: Edges) -> list[str] | None:
    """One cycle of the graph as the list of domains on it (first repeated last), or None."""
    visiting: list[str] = []
    done: set[str] = set()

    def visit(domain: str) -> list[str] | None:
        if domain in visiting:
            return [*visiting[visiting.index(domain) :], domain]
        if domain in done:
            return None
        visiting.append(domain)
        for target in sorted(edges[domain]):
            cycle = visit(target)
            if cycle is not None:
                return cycle
        visiting.pop()
        done.add(domain)
        return None

    for domain in sorted(edges):
        cycle = visit(domain)
        if cycle is not None:
            return cycle
    return None


def test_find_cycle_names_a_three_domain_cycle() -> None:
    edges: Edges = {"a": {"b": {"a/x.py"}}, "b": {"c": {"b/y.py"}}, "c": {"a": {"c/z.py"}}}
    assert find_cycle(edges) == ["a", "b", "c", "a"]


def test_find_cycle_accepts_a_diamond() -> None:
    edges: Edges = {"a": {"b": set(), "c": set()}, "b": {"d": set()}, "c": {"d": set()}, "d": {}}
    assert find_cycle(edges) is None


@pytest.mark.parametrize("package", sorted(SERVICES))
def test_domain_folders_import_each_other_without_a_cycle(package: str) -> None:
    edges = domain_edges(package, SERVICES[package])
    assert len(edges) >= 5, f"{package}: expected its domain folders, found {sorted(edges)}"
    cycle = find_cycle(edges)
    if cycle is not None:
        steps = [
            f"{source} -> {target} ({', '.join(sorted(edges[source][target]))})"
            for source, target in itertools.pairwise(cycle)
        ]
        pytest.fail(f"{package}: the domains import each other in a cycle:\n" + "\n".join(steps))
