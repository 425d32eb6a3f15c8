"""Checks of an essential configuration file before it is stored."""

from __future__ import annotations

import re

import yaml

from servicekit.errors import InvalidInput

CONTENT_FIELD = "content"
ENV_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def check_values_yaml(content: str) -> None:
    """Refuse a ``values.yaml`` that is not a YAML mapping; an empty file is an empty mapping."""
    try:
        document = yaml.safe_load(content)
    except yaml.YAMLError as error:
        where = ""
        mark = getattr(error, "problem_mark", None)
        if mark is not None:
            where = f" at line {mark.line + 1}, column {mark.column + 1}"
        problem = getattr(error, "problem", None) or "it cannot be parsed"
        raise InvalidInput(
            f"values.yaml is not valid YAML{where}: {problem}.", field=CONTENT_FIELD
        ) from None
    if document is not None and not isinstance(document, dict):
        raise InvalidInput(
            f"values.yaml must be a YAML mapping of keys to values, not a {_kind(document)}.",
            field=CONTENT_FIELD,
        )


def check_env_file(content: str) -> None:
    """Refuse a ``.env`` with a line that is not ``KEY=VALUE``, a ``#`` comment or blank."""
    seen: dict[str, int] = {}
    for number, line in enumerate(content.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        key, separator, _ = line.partition("=")
        key = key.strip()
        if not separator:
            # a line without '=' may be a pasted value: never echo it back
            raise InvalidInput(
                f"Line {number} of the .env file is not KEY=VALUE, a '#' comment or blank.",
                field=CONTENT_FIELD,
            )
        if ENV_KEY.fullmatch(key) is None:
            raise InvalidInput(
                f"Line {number} of the .env file is not KEY=VALUE with a KEY of letters, digits "
                f"and '_' not starting with a digit: {_preview(key)}",
                field=CONTENT_FIELD,
            )
        if key in seen:
            raise InvalidInput(
                f"Line {number} of the .env file sets {key} again (first set on line {seen[key]}).",
                field=CONTENT_FIELD,
            )
        seen[key] = number


def _kind(document: object) -> str:
    if isinstance(document, list):
        return "list"
    if isinstance(document, str):
        return "string"
    return type(document).__name__


def _preview(key: str) -> str:
    # The part before '=' only: the value is a secret and is never echoed back.
    return repr(key[:40] + ("…" if len(key) > 40 else ""))
