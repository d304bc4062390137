"""Small charts drawn on the server as SVG; every chart's numbers are also shown in a table."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from html import escape

COLORS = ["#005ea2", "#00683a", "#8a5300", "#b50909", "#565c65", "#0b4778"]


def bar_chart(title: str, bars: Sequence[tuple[str, float]], unit: str = "") -> str:
    """Horizontal bars with their labels and values written beside them."""
    width, row, label_w = 640, 28, 220
    height = row * len(bars) + 10
    top = max((v for _, v in bars), default=0) or 1
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-label="{escape(title)}" class="chart">'
    ]
    for i, (label, value) in enumerate(bars):
        y = i * row + 5
        w = (width - label_w - 70) * value / top
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 17}" text-anchor="end" font-size="13">'
            f"{escape(label[:32])}</text>"
            f'<rect x="{label_w}" y="{y + 4}" width="{w:.1f}" height="{row - 10}" '
            f'fill="{COLORS[i % len(COLORS)]}"/>'
            f'<text x="{label_w + w + 6:.1f}" y="{y + 17}" font-size="13">'
            f"{value:g}{escape(unit)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def cumulative_chart(title: str, days: Sequence[date], total: int) -> str:
    """A step line of how many have completed by each date, out of `total`."""
    width, height, pad = 640, 220, 40
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-label="{escape(title)}" class="chart">',
        f'<line x1="{pad}" y1="{height - pad}" x2="{width - 10}" y2="{height - pad}" '
        'stroke="#565c65"/>',
        f'<line x1="{pad}" y1="10" x2="{pad}" y2="{height - pad}" stroke="#565c65"/>',
        f'<text x="{pad - 6}" y="16" text-anchor="end" font-size="12">{total}</text>',
        f'<text x="{pad - 6}" y="{height - pad}" text-anchor="end" font-size="12">0</text>',
    ]
    if days and total:
        ordered = sorted(days)
        first, last = ordered[0], ordered[-1]
        span = max((last - first).days, 1)
        points = []
        for count, day in enumerate(ordered, start=1):
            x = pad + (width - pad - 20) * (day - first).days / span
            y = height - pad - (height - pad - 10) * count / total
            points.append(f"{x:.1f},{y:.1f}")
        parts.append(
            f'<polyline fill="none" stroke="#00683a" stroke-width="3" '
            f'points="{pad},{height - pad} {" ".join(points)}"/>'
        )
        parts.append(
            f'<text x="{pad}" y="{height - pad + 18}" font-size="12">{first.isoformat()}</text>'
            f'<text x="{width - 10}" y="{height - pad + 18}" text-anchor="end" font-size="12">'
            f"{last.isoformat()}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)
