"""Server-rendered SVG charts: no JavaScript library, nothing to build.

Each function takes plain numbers and returns one self-contained ``<svg>``
element (text escaped), sized by its viewBox so the page's CSS scales it.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

PALETTE = ("#2563eb", "#16a34a", "#f59e0b", "#dc2626", "#7c3aed", "#0891b2", "#db2777")
EMPTY = '<p class="empty">No data yet.</p>'


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _label(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def hbars(
    items: Sequence[tuple[str, float]],
    *,
    title: str,
    width: int = 560,
    bar: int = 26,
    percent_of: float | None = None,
    empty: str = "No data yet.",
) -> str:
    """Horizontal bars, one per (label, value); ``percent_of`` adds 'n (x%)'."""
    if not items or not any(v for _, v in items):
        return f'<p class="empty">{escape(empty)}</p>'
    label_w, gap, pad = 170, 8, 90
    top = max((v for _, v in items), default=0) or 1
    height = len(items) * (bar + gap) + gap
    scale = (width - label_w - pad) / top
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
    ]
    for i, (label, value) in enumerate(items):
        y = gap + i * (bar + gap)
        w = max(value * scale, 1 if value else 0)
        text = _label(value)
        if percent_of:
            text += f" ({value / percent_of:.0%})"
        parts.append(
            f'<text x="{label_w - 8}" y="{_num(y + bar * 0.68)}" text-anchor="end" '
            f'class="axis">{escape(label)}</text>'
            f'<rect x="{label_w}" y="{y}" width="{_num(w)}" height="{bar}" rx="3" '
            f'fill="{PALETTE[i % len(PALETTE)]}"><title>{escape(label)}: {text}</title></rect>'
            f'<text x="{_num(label_w + w + 6)}" y="{_num(y + bar * 0.68)}" class="value">'
            f"{escape(text)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def grouped_bars(
    groups: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    *,
    title: str,
    width: int = 560,
    height: int = 240,
    as_percent: bool = True,
) -> str:
    """Vertical bars: one group per label, one bar per series (a legend below)."""
    if not groups or not series:
        return EMPTY
    left, bottom, top_pad, legend = 40, 28, 12, 22
    plot_h = height - bottom - top_pad - legend
    top = max((v or 0 for _, values in series for v in values), default=0)
    top = 1.0 if as_percent else (top or 1)
    group_w = (width - left) / len(groups)
    bar_w = group_w * 0.8 / len(series)
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
    ]
    for tick in (0.0, 0.5, 1.0):
        y = top_pad + plot_h * (1 - tick)
        text = f"{tick:.0%}" if as_percent else _label(top * tick)
        parts.append(
            f'<line x1="{left}" x2="{width}" y1="{_num(y)}" y2="{_num(y)}" class="grid"/>'
            f'<text x="{left - 4}" y="{_num(y + 4)}" text-anchor="end" class="axis">{text}</text>'
        )
    for g, group in enumerate(groups):
        x0 = left + g * group_w + group_w * 0.1
        for s, (name, values) in enumerate(series):
            value = values[g] if g < len(values) else None
            h = plot_h * (value or 0) / top
            x = x0 + s * bar_w
            shown = "n/a" if value is None else (f"{value:.0%}" if as_percent else _label(value))
            parts.append(
                f'<rect x="{_num(x)}" y="{_num(top_pad + plot_h - h)}" width="{_num(bar_w - 2)}"'
                f' height="{_num(h)}" fill="{PALETTE[s % len(PALETTE)]}">'
                f"<title>{escape(group)} {escape(name)}: {shown}</title></rect>"
            )
        parts.append(
            f'<text x="{_num(left + (g + 0.5) * group_w)}" y="{top_pad + plot_h + 16}" '
            f'text-anchor="middle" class="axis">{escape(group)}</text>'
        )
    x = left
    for s, (name, _) in enumerate(series):
        y = height - 8
        parts.append(
            f'<rect x="{x}" y="{y - 9}" width="10" height="10" '
            f'fill="{PALETTE[s % len(PALETTE)]}"/>'
            f'<text x="{x + 14}" y="{y}" class="axis">{escape(name)}</text>'
        )
        x += 24 + 7 * len(name)
    parts.append("</svg>")
    return "".join(parts)


def timeline(
    points: Sequence[tuple[str, float]],
    *,
    title: str,
    width: int = 560,
    height: int = 160,
) -> str:
    """Columns over time (one per window), first and last label on the axis."""
    if not points:
        return EMPTY
    left, bottom, top_pad = 40, 22, 10
    plot_h = height - bottom - top_pad
    top = max(v for _, v in points) or 1
    step = (width - left) / len(points)
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>',
        f'<line x1="{left}" x2="{width}" y1="{top_pad}" y2="{top_pad}" class="grid"/>'
        f'<text x="{left - 4}" y="{top_pad + 4}" text-anchor="end" class="axis">'
        f"{_label(top)}</text>",
    ]
    for i, (label, value) in enumerate(points):
        h = plot_h * value / top
        parts.append(
            f'<rect x="{_num(left + i * step)}" y="{_num(top_pad + plot_h - h)}" '
            f'width="{_num(max(step - 1, 0.5))}" height="{_num(h)}" fill="{PALETTE[0]}">'
            f"<title>{escape(label)}: {_label(value)}</title></rect>"
        )
    y = height - 6
    parts.append(
        f'<text x="{left}" y="{y}" class="axis">{escape(points[0][0])}</text>'
        f'<text x="{width}" y="{y}" text-anchor="end" class="axis">{escape(points[-1][0])}</text>'
        "</svg>"
    )
    return "".join(parts)
