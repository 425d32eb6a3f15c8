"""What operator commands print: tables that fit 100 columns, JSON for scripts, page footers."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import typer
from pydantic import BaseModel

LINE_WIDTH = 100
"""No line of a table is wider."""


@dataclass(frozen=True)
class Column:
    """A table column: its heading and the most characters it shows."""

    heading: str
    width: int


def cell(value: Any) -> str:
    """A value as a table shows it: ``-`` for nothing, times to the second."""
    if value is None or value == "":
        return "-"
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def minute(value: datetime | None) -> str:
    """A time to the minute in UTC (``2026-12-05 14:02``), for a table column; ``-`` for none."""
    if value is None:
        return "-"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + "~"


def render_table(columns: Sequence[Column], rows: Sequence[Sequence[Any]]) -> list[str]:
    """The lines of a table: each column as wide as its widest cell, at most its width; the
    whole at most :data:`LINE_WIDTH` (the last column gives way)."""
    texts = [[cell(value) for value in row] for row in rows]
    widths = [
        min(column.width, max([len(column.heading), *(len(row[i]) for row in texts)]))
        for i, column in enumerate(columns)
    ]
    overflow = sum(widths) + 2 * (len(widths) - 1) - LINE_WIDTH
    if overflow > 0:
        widths[-1] = max(widths[-1] - overflow, 1)
    lines = []
    for row in [[column.heading for column in columns], *texts]:
        parts = [_fit(text, width).ljust(width) for text, width in zip(row, widths, strict=True)]
        lines.append("  ".join(parts).rstrip())
    return lines


def print_table(columns: Sequence[Column], rows: Sequence[Sequence[Any]]) -> None:
    """Print :func:`render_table`."""
    for line in render_table(columns, rows):
        typer.echo(line)


def print_json(value: BaseModel | Sequence[BaseModel] | dict[str, Any]) -> None:
    """Print a contract model (or a list of them) as the API answers it: camelCase JSON."""
    if isinstance(value, BaseModel):
        typer.echo(value.model_dump_json(by_alias=True, indent=2))
        return
    if isinstance(value, dict):
        typer.echo(json.dumps(value, indent=2, default=str))
        return
    items = [item.model_dump(mode="json", by_alias=True) for item in value]
    typer.echo(json.dumps(items, indent=2))


def print_page_footer(*, shown: int, offset: int, total: int | None, noun: str) -> None:
    """``rows 1-50 of 230 organizations; next page: --offset 50`` (stderr-free, last line)."""
    if shown == 0:
        typer.echo(f"no {noun}" if offset == 0 else f"no {noun} after --offset {offset}")
        return
    of_total = f" of {total}" if total is not None else ""
    line = f"{noun} {offset + 1}-{offset + shown}{of_total}"
    if total is None or offset + shown < total:
        line += f"; next page: --offset {offset + shown}"
    typer.echo(line)
