"""The settings an essential configuration file holds, by key, and what a new revision changes.

Keys are what admins may see; values never leave this module except to be compared. A
``.env`` setting's key is its variable name; a ``values.yaml`` setting's key is its dotted path
(``ingress.host``), a list or an empty mapping counting as one setting.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import yaml

from contracts import EssentialConfigKind


@dataclass(frozen=True)
class KeyChanges:
    """Which keys a revision added, changed (same key, another value) or removed."""

    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


def setting_values(kind: EssentialConfigKind, content: str) -> dict[str, str]:
    """Each setting of a checked file by key, its value in a comparable form."""
    if kind == "env":
        return _env_settings(content)
    document = yaml.safe_load(content) if content.strip() else None
    settings: dict[str, str] = {}
    if isinstance(document, dict):
        _flatten(document, "", settings)
    return settings


def setting_keys(kind: EssentialConfigKind, content: str) -> list[str]:
    """The keys of a checked file, sorted."""
    return sorted(setting_values(kind, content))


def key_changes(before: dict[str, str], after: dict[str, str]) -> KeyChanges:
    """The keys added, changed and removed going from ``before`` to ``after``, each sorted."""
    return KeyChanges(
        added=sorted(after.keys() - before.keys()),
        changed=sorted(key for key in after.keys() & before.keys() if after[key] != before[key]),
        removed=sorted(before.keys() - after.keys()),
    )


def _env_settings(content: str) -> dict[str, str]:
    settings: dict[str, str] = {}
    for line in content.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        key, _, value = line.partition("=")
        settings[key.strip()] = value
    return settings


def _flatten(mapping: dict[Any, Any], prefix: str, into: dict[str, str]) -> None:
    for key, value in mapping.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            _flatten(value, f"{path}.", into)
        else:
            into[path] = json.dumps(value, sort_keys=True, default=str)
