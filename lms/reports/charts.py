"""Small charts drawn on the server as SVG, sized by their attributes (the CSP allows no
inline styles).

A chart's numbers are also in a table: the table is the chart's accessible text. The page
puts it behind a disclosure next to the chart, and the chart names it with
aria-describedby, so the numbers are read once and shown once.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from datetime import date
from html import escape

# Bars whose colour means nothing (statuses, counties) all take one colour: a rainbow would
# suggest good and bad where there is none.
BAR_COLOR = "#005ea2"

# The five Likert answers, "Strongly disagree" to "Strongly agree": ColorBrewer's 5-class RdBu,
# a diverging scale that stays apart for the common colour-vision deficiencies and reads from
# warm (disagree) through grey to cool (agree). Its near-white middle (#f7f7f7) is a light grey
# here so the neutral segment shows on a white page.
LIKERT_COLORS = ("#ca0020", "#f4a582", "#d9d9d9", "#92c5de", "#0571b0")
# The count written on each segment: white on the two dark ends, near-black on the light
# three; every pair is at least 4.5:1.
LIKERT_INK = ("#ffffff", "#1b1b1b", "#1b1b1b", "#1b1b1b", "#ffffff")

WIDTH = 640
FONT = 13
LINE = 16  # px from one line of a wrapped label to the next
# Text cannot be measured on the server; 0.6 em is wider than the average glyph of the
# system sans-serif fonts, so a line this long fits where it is estimated to.
CHAR_WIDTH = 0.6
LABEL_WIDTH = 220  # bar charts: the labels' column, left of the bars
LABEL_CHARS = int((LABEL_WIDTH - 8) / (FONT * CHAR_WIDTH))


def _text_width(text: str, size: int = FONT) -> float:
    return len(text) * size * CHAR_WIDTH


def _wrap(label: str, chars: int) -> list[str]:
    """The label in lines of at most `chars` characters, whole: never cut off."""
    return textwrap.wrap(label, chars, break_long_words=True, break_on_hyphens=False) or [""]


def _lines(lines: Sequence[str], x: float, y: float, anchor: str = "start") -> str:
    """One <text> of several lines: each a <tspan> at the same x, LINE below the last."""
    spans = "".join(
        f'<tspan x="{x:g}" dy="{0 if i == 0 else LINE}">{escape(line)}</tspan>'
        for i, line in enumerate(lines)
    )
    return f'<text x="{x:g}" y="{y:g}" text-anchor="{anchor}" font-size="{FONT}">{spans}</text>'


def _open_svg(title: str, height: float, described_by: str | None) -> str:
    """The chart's <svg>: an image named by its title and described by its table."""
    described = f' aria-describedby="{escape(described_by)}"' if described_by else ""
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height:g}" '
        f'width="100%" role="img" aria-label="{escape(title)}"{described} class="chart">'
    )


def bar_chart(
    title: str,
    bars: Sequence[tuple[str, float]],
    unit: str = "",
    described_by: str | None = None,
) -> str:
    """Horizontal bars with their labels (wrapped, never cut) and values beside them."""
    values = [f"{value:g}{unit}" for _, value in bars]
    # Room right of the longest bar for the longest value.
    value_room = max((_text_width(v) for v in values), default=0) + 14
    bar_room = WIDTH - LABEL_WIDTH - value_room
    top = max((v for _, v in bars), default=0) or 1
    rows = []
    y = 5
    for (label, value), shown in zip(bars, values, strict=True):
        lines = _wrap(label, LABEL_CHARS)
        height = max(28, LINE * len(lines) + 12)
        middle = y + height / 2  # the bar and the label's lines are centred on the row
        first_line = middle + 5 - LINE * (len(lines) - 1) / 2
        w = bar_room * value / top
        rows.append(
            _lines(lines, LABEL_WIDTH - 8, first_line, "end")
            + f'<rect x="{LABEL_WIDTH}" y="{middle - 9:g}" width="{w:.1f}" height="18" '
            f'fill="{BAR_COLOR}"/>'
            f'<text x="{LABEL_WIDTH + w + 6:.1f}" y="{middle + 5:g}" font-size="{FONT}">'
            f"{escape(shown)}</text>"
        )
        y += height
    return _open_svg(title, y + 5, described_by) + "".join(rows) + "</svg>"


def likert_chart(
    title: str,
    answers: Sequence[str],
    statements: Sequence[tuple[str, Sequence[int]]],
    described_by: str | None = None,
) -> str:
    """Each statement (its text above, wrapped) with a bar of its answers side by side,
    "Strongly disagree" on the left to "Strongly agree" on the right, under one legend."""
    if len(answers) != len(LIKERT_COLORS):
        raise ValueError(f"a Likert chart has {len(LIKERT_COLORS)} answers, not {len(answers)}")
    parts = []
    # The legend, in the palette's order, wrapping onto another line when it must.
    x, y = 0.0, 5.0
    for answer, color in zip(answers, LIKERT_COLORS, strict=True):
        item = 14 + 6 + _text_width(answer) + 18
        if x and x + item > WIDTH:
            x, y = 0.0, y + 22
        parts.append(
            f'<rect class="legend" data-answer="{escape(answer)}" x="{x:g}" y="{y:g}" '
            f'width="14" height="14" fill="{color}"/>'
            f'<text x="{x + 20:g}" y="{y + 12:g}" font-size="{FONT}">{escape(answer)}</text>'
        )
        x += item
    y += 34
    for statement, counts in statements:
        lines = _wrap(statement, int(WIDTH / (FONT * CHAR_WIDTH)))
        row = [_lines(lines, 0, y + 12)]
        top = y + LINE * len(lines) + 3  # clear of the last line's descenders
        total = sum(counts)
        if not total:
            row.append(
                f'<rect x="0" y="{top:g}" width="{WIDTH}" height="24" fill="none" '
                f'stroke="#565c65"/><text x="8" y="{top + 17:g}" font-size="{FONT}">'
                "No answers yet</text>"
            )
        left = 0.0
        for answer, count, color, ink in zip(
            answers, counts, LIKERT_COLORS, LIKERT_INK, strict=True
        ):
            if not count:
                continue
            w = WIDTH * count / total
            # A white edge between segments, so neighbours read apart without their colour.
            row.append(
                f'<rect data-answer="{escape(answer)}" x="{left:.1f}" y="{top:g}" '
                f'width="{w:.1f}" height="24" fill="{color}" stroke="#ffffff"/>'
            )
            if w >= _text_width(str(count)) + 8:
                row.append(
                    f'<text x="{left + w / 2:.1f}" y="{top + 17:g}" text-anchor="middle" '
                    f'font-size="{FONT}" fill="{ink}">{count}</text>'
                )
            left += w
        parts.append(f"<g>{''.join(row)}</g>")
        y = top + 24 + 18
    return _open_svg(title, y, described_by) + "".join(parts) + "</svg>"


def cumulative_chart(
    title: str, days: Sequence[date], total: int, described_by: str | None = None
) -> str:
    """A step line of how many have completed by each date, out of `total`."""
    height = 220
    # The left margin fits the largest count written beside the axis.
    pad = max(40, round(_text_width(str(total), 12) + 12))
    parts = [
        f'<line x1="{pad}" y1="{height - 40}" x2="{WIDTH - 10}" y2="{height - 40}" '
        'stroke="#565c65"/>',
        f'<line x1="{pad}" y1="10" x2="{pad}" y2="{height - 40}" stroke="#565c65"/>',
        f'<text x="{pad - 6}" y="16" text-anchor="end" font-size="12">{total}</text>',
        f'<text x="{pad - 6}" y="{height - 40}" text-anchor="end" font-size="12">0</text>',
    ]
    if days and total:
        ordered = sorted(days)
        first, last = ordered[0], ordered[-1]
        span = max((last - first).days, 1)
        points = []
        for count, day in enumerate(ordered, start=1):
            x = pad + (WIDTH - pad - 20) * (day - first).days / span
            y = height - 40 - (height - 40 - 10) * count / total
            points.append(f"{x:.1f},{y:.1f}")
        parts.append(
            f'<polyline fill="none" stroke="#00683a" stroke-width="3" '
            f'points="{pad},{height - 40} {" ".join(points)}"/>'
        )
        parts.append(f'<text x="{pad}" y="{height - 22}" font-size="12">{first.isoformat()}</text>')
        if last != first:  # one day is written once, not twice
            parts.append(
                f'<text x="{WIDTH - 10}" y="{height - 22}" text-anchor="end" font-size="12">'
                f"{last.isoformat()}</text>"
            )
    return _open_svg(title, height, described_by) + "".join(parts) + "</svg>"
