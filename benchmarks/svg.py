"""Horizontal grouped bar charts as plain SVG text (no plotting library needed).

The chart has its own white background and dark text, so it reads the same in the docs'
light and dark themes, and a title and description for screen readers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

COLORS = ("#2563eb", "#9ca3af", "#059669", "#d97706")
WIDTH = 760
LABEL_WIDTH = 150
VALUE_WIDTH = 90
BAR = 16
GAP = 3
GROUP_GAP = 14
TOP = 58
FONT = "font-family:system-ui,-apple-system,'Segoe UI',Helvetica,Arial,sans-serif"


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]  # one per group; None: not measured


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = float(10 ** math.floor(math.log10(value)))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return float(step * magnitude)
    return 10.0 * magnitude


def bar_chart(
    title: str,
    groups: Sequence[str],
    series: Sequence[Series],
    fmt: Callable[[float], str],
    note: str = "",
) -> str:
    """Return an SVG document: one row of bars per group, one bar per series."""
    values = [v for s in series for v in s.values if v is not None]
    scale_max = _nice_max(max(values, default=0.0))
    plot_width = WIDTH - LABEL_WIDTH - VALUE_WIDTH - 20
    group_height = len(series) * (BAR + GAP) - GAP
    height = TOP + len(groups) * (group_height + GROUP_GAP) + 30
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" role="img" aria-labelledby="title desc">',
        f'<title id="title">{escape(title)}</title>',
        f'<desc id="desc">{escape(_describe(groups, series, fmt))}</desc>',
        f'<rect width="{WIDTH}" height="{height}" fill="#ffffff"/>',
        f'<text x="10" y="22" style="{FONT};font-size:15px;font-weight:600" fill="#111827">'
        f"{escape(title)}</text>",
    ]
    legend_x = 10
    for index, item in enumerate(series):
        color = COLORS[index % len(COLORS)]
        out.append(f'<rect x="{legend_x}" y="34" width="12" height="12" fill="{color}"/>')
        out.append(
            f'<text x="{legend_x + 16}" y="44" style="{FONT};font-size:12px" fill="#374151">'
            f"{escape(item.name)}</text>"
        )
        legend_x += 30 + 7 * len(item.name)
    y = TOP
    for group_index, group in enumerate(groups):
        label_y = y + group_height / 2 + 4
        out.append(
            f'<text x="{LABEL_WIDTH - 8}" y="{label_y:.1f}" text-anchor="end" '
            f'style="{FONT};font-size:13px" fill="#111827">{escape(group)}</text>'
        )
        for index, item in enumerate(series):
            value = item.values[group_index]
            bar_y = y + index * (BAR + GAP)
            if value is None:
                out.append(
                    f'<text x="{LABEL_WIDTH + 4}" y="{bar_y + BAR - 4}" style="{FONT};'
                    f'font-size:11px" fill="#6b7280">not measured</text>'
                )
                continue
            bar_width = max(1.0, plot_width * value / scale_max)
            color = COLORS[index % len(COLORS)]
            out.append(
                f'<rect x="{LABEL_WIDTH}" y="{bar_y}" width="{bar_width:.1f}" height="{BAR}" '
                f'fill="{color}"><title>{escape(item.name)}: {escape(fmt(value))}</title></rect>'
            )
            out.append(
                f'<text x="{LABEL_WIDTH + bar_width + 5:.1f}" y="{bar_y + BAR - 4}" '
                f'style="{FONT};font-size:11px" fill="#374151">{escape(fmt(value))}</text>'
            )
        y += group_height + GROUP_GAP
    out.append(
        f'<line x1="{LABEL_WIDTH}" y1="{TOP - 4}" x2="{LABEL_WIDTH}" y2="{y - GROUP_GAP + 4}" '
        'stroke="#9ca3af" stroke-width="1"/>'
    )
    if note:
        out.append(
            f'<text x="10" y="{height - 10}" style="{FONT};font-size:11px" fill="#6b7280">'
            f"{escape(note)}</text>"
        )
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _describe(groups: Sequence[str], series: Sequence[Series], fmt: Callable[[float], str]) -> str:
    parts = []
    for group_index, group in enumerate(groups):
        cells = []
        for item in series:
            value = item.values[group_index]
            cells.append(f"{item.name} {fmt(value) if value is not None else 'not measured'}")
        parts.append(f"{group}: " + ", ".join(cells))
    return "; ".join(parts)
