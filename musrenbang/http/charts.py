"""Horizontal bar charts as inline SVG, drawn on the server: no script, no chart library, readable on a
360 px phone (one row of text above each group of bars, the value written beside each bar) and by a
screen reader (`role="img"` with a title and a description; every number is also in the table next to
the chart). Texts arrive translated; this module only lays them out."""

from __future__ import annotations

from typing import NamedTuple

from markupsafe import Markup, escape

WIDTH = 360
VALUE_SPACE = 120  # room right of the longest bar for its value
BAR, GAP, LABEL = 11, 3, 18
COLORS = ("#0b6e4f", "#5fa38a", "#a9cfc0")
TRACK, MARKER = "#d8dee2", "#1d2327"


class Bar(NamedTuple):
    value: int
    text: str
    """Written right of the bar (empty: nothing)."""
    series: int = 0


class Group(NamedTuple):
    label: str
    bars: list[Bar]
    limit: int | None = None
    """A ceiling: drawn as a light track with a dark mark where it ends."""
    note: str = ""
    """A line of text under the bars."""


def bar_chart(ident: str, title: str, desc: str, groups: list[Group], legend: list[str] | None = None) -> Markup:
    legend = legend or []
    scale_max = max([b.value for g in groups for b in g.bars] + [g.limit or 0 for g in groups] + [1])
    room = WIDTH - VALUE_SPACE
    parts: list[str] = []
    y = 0
    if legend:
        x = 0
        for n, text in enumerate(legend):
            parts.append(f'<rect x="{x}" y="{y + 2}" width="10" height="10" fill="{COLORS[n % len(COLORS)]}"/>'
                         f'<text x="{x + 14}" y="{y + 11}">{escape(text)}</text>')  # fmt: skip
            x += 20 + 7 * len(text)
        y += LABEL + 4
    for g in groups:
        parts.append(f'<text x="0" y="{y + 13}" font-weight="600">{escape(g.label)}</text>')
        y += LABEL
        top = y
        for b in g.bars:
            if g.limit:
                parts.append(f'<rect x="0" y="{y}" width="{_w(g.limit, scale_max, room)}" height="{BAR}"'
                             f' fill="{TRACK}"/>')  # fmt: skip
            width = _w(b.value, scale_max, room)
            parts.append(f'<rect x="0" y="{y}" width="{width}" height="{BAR}" fill="{COLORS[b.series % len(COLORS)]}">'
                         f"<title>{escape(g.label)}: {escape(b.text or g.note)}</title></rect>")  # fmt: skip
            if b.text:
                parts.append(f'<text x="{width + 4:.1f}" y="{y + BAR - 1}">{escape(b.text)}</text>')
            y += BAR + GAP
        if g.limit:
            end = _w(g.limit, scale_max, room)
            parts.append(f'<rect x="{max(end - 2, 0):.1f}" y="{top - 3}" width="2" height="{y - top + 3}"'
                         f' fill="{MARKER}"/>')  # fmt: skip
        if g.note:
            parts.append(f'<text x="0" y="{y + 11}">{escape(g.note)}</text>')
            y += LABEL - 2
        y += 8
    height = max(y, 1)
    return Markup(
        f'<svg class="chart" role="img" aria-labelledby="{ident}-t {ident}-d" viewBox="0 0 {WIDTH} {height}"'
        f' width="{WIDTH}" height="{height}" font-size="12" font-family="system-ui, sans-serif" fill="#1d2327"'
        f' xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{ident}-t">{escape(title)}</title><desc id="{ident}-d">{escape(desc)}</desc>'
        + "".join(parts)
        + "</svg>"
    )


def _w(value: int, scale_max: int, room: int) -> float:
    return round(max(value, 0) * room / scale_max, 1)
