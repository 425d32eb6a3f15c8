"""Charts drawn on the server as SVG: no chart library, no script, readable without colour.

Each chart is an ``<svg role="img">`` with a title and a description naming every value, so a
screen reader reads the numbers the bars show.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape


@dataclass(frozen=True)
class Bar:
    """One bar: what it counts, how many, and the style class of its fill."""

    label: str
    value: int
    style: str = "bar"


def bar_chart(
    bars: Sequence[Bar],
    *,
    title: str,
    chart_id: str,
    width: int = 640,
    bar_height: int = 20,
    gap: int = 6,
    label_width: int = 150,
) -> Markup:
    """Horizontal bars, longest value full width, each labelled with its count."""
    count_width = 70
    room = width - label_width - count_width
    largest = max((bar.value for bar in bars), default=0) or 1
    height = max(len(bars), 1) * (bar_height + gap) + gap
    description = "; ".join(f"{bar.label}: {bar.value}" for bar in bars) or "nothing to show"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'viewBox="0 0 {width} {height}" width="100%" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(description)}</desc>',
    ]
    for index, bar in enumerate(bars):
        top = gap + index * (bar_height + gap)
        middle = top + bar_height / 2
        length = round(room * bar.value / largest) if bar.value else 0
        parts.append(
            f'<text x="{label_width - 8}" y="{middle}" text-anchor="end" '
            f'dominant-baseline="middle" class="chart-label">{escape(bar.label)}</text>'
        )
        parts.append(
            f'<rect x="{label_width}" y="{top}" width="{max(length, 1)}" '
            f'height="{bar_height}" class="{escape(bar.style)}"/>'
        )
        parts.append(
            f'<text x="{label_width + length + 6}" y="{middle}" dominant-baseline="middle" '
            f'class="chart-value">{bar.value:,}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated text is escaped above


def share_bar(
    parts: Sequence[Bar], *, title: str, chart_id: str, width: int = 640, height: int = 24
) -> Markup:
    """One bar split into the shares of ``parts`` (a progress bar of several states)."""
    total = sum(part.value for part in parts)
    description = "; ".join(f"{part.label}: {part.value}" for part in parts)
    pieces = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart share" role="img" '
        f'viewBox="0 0 {width} {height}" width="100%" preserveAspectRatio="none" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(description or "nothing yet")}</desc>',
        f'<rect x="0" y="0" width="{width}" height="{height}" class="share-empty"/>',
    ]
    left = 0.0
    for part in parts:
        if not total or not part.value:
            continue
        length = width * part.value / total
        pieces.append(
            f'<rect x="{left:.2f}" y="0" width="{length:.2f}" height="{height}" '
            f'class="{escape(part.style)}"/>'
        )
        left += length
    pieces.append("</svg>")
    return Markup("".join(pieces))  # noqa: S704 - every interpolated text is escaped above
