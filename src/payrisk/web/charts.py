"""Inline SVG charts: no JavaScript, no external requests, readable when e-mailed.

Each chart is an `<svg role="img">` with a `<title>` and `<desc>` (screen readers read them), axis
titles and a legend; the pages put the same figures in a table next to it as the text
alternative. Words and number formats come from the page (`payrisk.web.i18n`), so a chart reads
in the page's language.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from html import escape
from itertools import count

WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 84, 16, 34, 52
_ids = count(1)


def _nice_max(value: float, ticks: int = 4) -> float:
    """A round upper bound for an axis whose `ticks` steps are 1, 2 or 5 x 10^k, so every tick
    label is a short round number (2 M, 4 M..., never 1,25 M)."""
    if value <= 0 or not math.isfinite(value):
        return 1.0
    rough = value / ticks
    magnitude = 10 ** math.floor(math.log10(rough))
    for step in (1, 2, 5, 10):
        if rough <= step * magnitude:
            return step * magnitude * ticks
    return 10 * magnitude * ticks


def _nice_range(low: float, high: float, ticks: int = 4) -> tuple[float, float, int]:
    """Round axis ends around [low, high] whose steps are 1, 2 or 5 x 10^k, and the number of
    steps (so -20..200 becomes -50..200 in steps of 50, not -20, 35, 90...)."""
    span = max(high - low, 1e-9)
    rough = span / ticks
    magnitude = 10 ** math.floor(math.log10(rough))
    step = next((s * magnitude for s in (1, 2, 5, 10) if rough <= s * magnitude), 10 * magnitude)
    start, end = math.floor(low / step) * step, math.ceil(high / step) * step
    return start, end, max(round((end - start) / step), 1)


def _open(
    title: str, desc: str, height: int = HEIGHT, width: int = WIDTH, css: str = "chart"
) -> tuple[str, str]:
    ident = f"chart{next(_ids)}"
    head = (
        f'<svg class="{css}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="{ident}t {ident}d" xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{ident}t">{escape(title)}</title><desc id="{ident}d">{escape(desc)}</desc>'
    )
    return head, "</svg>"


def _y_axis(
    low: float, high: float, fmt: Callable[[float], str], height: int = HEIGHT, ticks: int = 4
) -> tuple[Callable[[float], float], str]:
    """A linear y scale over [low, high] and its grid lines with labels."""
    inner = height - TOP - BOTTOM

    def y(value: float) -> float:
        return TOP + inner * (1 - (value - low) / (high - low or 1))

    parts = []
    for k in range(ticks + 1):
        value = low + (high - low) * k / ticks
        pos = y(value)
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{pos:.1f}" y2="{pos:.1f}"/>'
            f'<text class="tick" x="{LEFT - 6}" y="{pos + 4:.1f}" text-anchor="end">'
            f"{escape(fmt(value))}</text>"
        )
    return y, "".join(parts)


def axis_titles(x_title: str, y_title: str, height: int = HEIGHT, width: int = WIDTH) -> str:
    """The x axis title under the ticks, the y axis title along the left edge."""
    middle = TOP + (height - TOP - BOTTOM) / 2
    return (
        f'<text class="axis" x="{LEFT + (width - LEFT - RIGHT) / 2:.1f}" y="{height - 8}" '
        f'text-anchor="middle">{escape(x_title)}</text>'
        f'<text class="axis" x="14" y="{middle:.1f}" text-anchor="middle" '
        f'transform="rotate(-90 14 {middle:.1f})">{escape(y_title)}</text>'
    )


def legend(entries: Sequence[tuple[str, str]], width: int = WIDTH) -> str:
    """A row of (css class of the mark, label) at the top right."""
    parts, x = [], float(width - RIGHT)
    for mark, label in reversed(entries):
        x -= 7.0 * len(label) + 26
        parts.append(
            f'<rect class="key {escape(mark)}" x="{x:.1f}" y="8" width="14" height="10"/>'
            f'<text class="legend" x="{x + 18:.1f}" y="17">{escape(label)}</text>'
        )
    return '<g class="legend">' + "".join(parts) + "</g>"


def bar_chart(
    labels: Sequence[str],
    values: Sequence[float],
    title: str,
    desc: str,
    fmt: Callable[[float], str],
    x_title: str = "",
    y_title: str = "",
) -> str:
    """Vertical bars, one per label (e.g. the aged balance by bucket)."""
    head, tail = _open(title, desc)
    top = _nice_max(max(values, default=0))
    y, grid = _y_axis(0, top, fmt)
    slot = (WIDTH - LEFT - RIGHT) / max(len(values), 1)
    bars = []
    for k, (label, value) in enumerate(zip(labels, values, strict=True)):
        x = LEFT + k * slot + slot * 0.15
        bars.append(
            f'<rect class="bar" x="{x:.1f}" y="{y(value):.1f}" width="{slot * 0.7:.1f}" '
            f'height="{y(0) - y(value):.1f}"><title>{escape(label)}: {escape(fmt(value))}</title>'
            f'</rect><text class="tick" x="{x + slot * 0.35:.1f}" y="{HEIGHT - BOTTOM + 18}" '
            f'text-anchor="middle">{escape(label)}</text>'
        )
    return head + grid + "".join(bars) + axis_titles(x_title, y_title) + tail


def band_chart(
    labels: Sequence[str],
    low: Sequence[float],
    mid: Sequence[float],
    high: Sequence[float],
    title: str,
    desc: str,
    fmt: Callable[[float], str],
    x_title: str = "",
    y_title: str = "",
    keys: tuple[str, str] = ("expected", "range"),
) -> str:
    """A line (e.g. expected weekly cash-in) inside a shaded low/high band; `keys` are the
    legend's words for the line and the band."""
    head, tail = _open(title, desc)
    n = len(mid)
    top = _nice_max(max([*high, *mid], default=0))
    y, grid = _y_axis(0, top, fmt)
    step = (WIDTH - LEFT - RIGHT) / max(n - 1, 1)

    def x(k: int) -> float:
        return LEFT + k * step

    band = " ".join(f"{x(k):.1f},{y(v):.1f}" for k, v in enumerate(high))
    band += " " + " ".join(f"{x(k):.1f},{y(v):.1f}" for k, v in reversed(list(enumerate(low))))
    line = " ".join(f"{x(k):.1f},{y(v):.1f}" for k, v in enumerate(mid))
    marks = "".join(
        f'<circle class="dot" cx="{x(k):.1f}" cy="{y(v):.1f}" r="3">'
        f"<title>{escape(labels[k])}: {escape(fmt(v))}</title></circle>"
        for k, v in enumerate(mid)
    )
    ticks = "".join(
        f'<text class="tick" x="{x(k):.1f}" y="{HEIGHT - BOTTOM + 18}" '
        f'text-anchor="{"end" if k == n - 1 and n > 1 else "middle"}">{escape(labels[k])}</text>'
        for k in range(0, n, max((n + 6) // 7, 1))
    )
    return (
        head
        + grid
        + f'<polygon class="band" points="{band}"/>'
        + f'<polyline class="line" points="{line}"/>'
        + marks
        + ticks
        + axis_titles(x_title, y_title)
        + legend([("line", keys[0]), ("band", keys[1])])
        + tail
    )


def scatter_chart(
    xs: Sequence[float],
    ys: Sequence[float],
    x_labels: Sequence[tuple[float, str]],
    title: str,
    desc: str,
    point_titles: Sequence[str] | None = None,
    x_title: str = "",
    y_title: str = "",
    keys: tuple[str, str] = ("late", "on time"),
    y_fmt: Callable[[float], str] = lambda v: f"{v:,.0f}",
) -> str:
    """Points over time (e.g. days late per settled invoice), with a zero line (on time); `keys`
    are the legend's words for points above and below it."""
    head, tail = _open(title, desc)
    lo_x, hi_x = (min(xs), max(xs)) if xs else (0.0, 1.0)
    lo_y, hi_y, steps = _nice_range(min(0.0, min(ys, default=0.0)), max(1.0, max(ys, default=0.0)))
    y, grid = _y_axis(lo_y, hi_y, y_fmt, ticks=steps)
    span = hi_x - lo_x or 1.0

    def x(value: float) -> float:
        return LEFT + (WIDTH - LEFT - RIGHT) * (value - lo_x) / span

    zero = f'<line class="zero" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(0):.1f}" y2="{y(0):.1f}"/>'
    titles = point_titles or [""] * len(xs)
    dots = "".join(
        f'<circle class="{"dot late" if b > 0 else "dot"}" cx="{x(a):.1f}" cy="{y(b):.1f}" '
        f'r="3.5">{f"<title>{escape(t)}</title>" if t else ""}</circle>'
        for a, b, t in zip(xs, ys, titles, strict=True)
    )
    shown = [(v, label) for v, label in x_labels if lo_x <= v <= hi_x]
    every = max((len(shown) + 5) // 6, 1)  # at most six labels: they must not run together
    ticks = "".join(
        f'<text class="tick" x="{x(v):.1f}" y="{HEIGHT - BOTTOM + 18}" text-anchor="middle">'
        f"{escape(label)}</text>"
        for v, label in shown[::every]
    )
    key = legend([("dot late", keys[0]), ("dot", keys[1])])
    return head + grid + zero + dots + ticks + axis_titles(x_title, y_title) + key + tail


def reliability_chart(
    predicted: Sequence[float],
    observed: Sequence[float],
    title: str,
    desc: str,
    x_title: str = "",
    y_title: str = "",
    keys: tuple[str, str] = ("model", "perfect calibration"),
    pct: Callable[[float], str] = lambda v: f"{v:.0%}",
) -> str:
    """Observed rate against predicted probability per bin; on the diagonal = calibrated."""
    size, width = 340, 420
    head, tail = _open(title, desc, height=size, width=width, css="chart square")
    inner = size - TOP - BOTTOM

    def px(value: float) -> float:
        return LEFT + inner * value

    def py(value: float) -> float:
        return TOP + inner * (1 - value)

    grid = "".join(
        f'<line class="grid" x1="{px(0)}" x2="{px(1)}" y1="{py(v):.1f}" y2="{py(v):.1f}"/>'
        f'<text class="tick" x="{px(0) - 6}" y="{py(v) + 4:.1f}" text-anchor="end">'
        f"{escape(pct(v))}</text>"
        f'<text class="tick" x="{px(v):.1f}" y="{py(0) + 18}" text-anchor="middle">'
        f"{escape(pct(v))}</text>"
        for v in (0, 0.25, 0.5, 0.75, 1.0)
    )
    diagonal = f'<line class="zero" x1="{px(0)}" y1="{py(0)}" x2="{px(1)}" y2="{py(1)}"/>'
    points = " ".join(f"{px(a):.1f},{py(b):.1f}" for a, b in zip(predicted, observed, strict=True))
    dots = "".join(
        f'<circle class="dot" cx="{px(a):.1f}" cy="{py(b):.1f}" r="3.5">'
        f"<title>{escape(pct(a))} → {escape(pct(b))}</title></circle>"
        for a, b in zip(predicted, observed, strict=True)
    )
    return (
        head
        + grid
        + diagonal
        + f'<polyline class="line curve" points="{points}"/>'
        + dots
        + axis_titles(x_title, y_title, height=size, width=LEFT + inner + RIGHT)
        + legend([("line", keys[0]), ("zero", keys[1])], width=width)
        + tail
    )
