"""Small charts drawn on the server as SVG: no script, readable without one, printable.

Each chart is an `<svg role="img">` with a French sentence saying what it shows (its
accessible name); the figures are also on the page as text.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from markupsafe import Markup

from app import wording
from app.indicators.models import Direction
from app.indicators.schemas import IndicatorOut

# DSFR colours: blue France, the error red, the success green, a default grey.
BLUE, GREY, GREEN, RED = "#000091", "#666666", "#18753c", "#ce0500"


def _svg(width: int, height: int, label: str, body: str) -> Markup:
    # Every text put in `body` went through `escape` or is a number: the markup is ours.
    return Markup(  # noqa: S704
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" height="{height}" role="img" aria-label="{escape(label)}" '
        f'class="gpo-chart" preserveAspectRatio="xMinYMin meet">{body}</svg>'
    )


def indicator_sentence(indicator: IndicatorOut) -> str:
    unit = f"{indicator.unit} par 30 jours"
    baseline = wording.number(round(indicator.baseline_rate, 1))
    parts = [f"{indicator.name} : référence {baseline} {unit}"]
    if indicator.latest_rate is not None:
        text = f"dernière mesure {wording.number(round(indicator.latest_rate, 1))}"
        if indicator.change_pct is not None:
            sign = "+" if indicator.change_pct > 0 else ""
            text += f" ({sign}{wording.number(round(indicator.change_pct))} %)"
        parts.append(text)
    else:
        parts.append("aucune mesure après la référence")
    if indicator.target_value is not None:
        parts.append(f"objectif {wording.number(indicator.target_value)}")
    wanted = "à la baisse" if indicator.direction is Direction.decrease else "à la hausse"
    parts.append(f"amélioration attendue {wanted}")
    return " ; ".join(parts) + "."


def indicator_chart(indicator: IndicatorOut, width: int = 360, height: int = 140) -> Markup:
    """The rate per 30 days of each measurement, against the baseline (dashed) and the
    target (dotted), oldest period first."""
    rates = [m.rate for m in sorted(indicator.measurements, key=lambda m: m.period_end)]
    values = [indicator.baseline_rate, *rates]
    if indicator.target_value is not None:
        values.append(indicator.target_value)
    top = max(values) * 1.15 or 1.0
    left, right, above, below = 8, 8, 12, 22
    plot_w, plot_h = width - left - right, height - above - below

    def y(value: float) -> float:
        return above + plot_h * (1 - value / top)

    body = [
        f'<line x1="{left}" y1="{above + plot_h}" x2="{width - right}" y2="{above + plot_h}" '
        f'stroke="{GREY}" stroke-width="1"/>',
        f'<line x1="{left}" y1="{y(indicator.baseline_rate):.1f}" x2="{width - right}" '
        f'y2="{y(indicator.baseline_rate):.1f}" stroke="{GREY}" stroke-width="2" '
        f'stroke-dasharray="6 4"/>',
        f'<text x="{left}" y="{y(indicator.baseline_rate) - 4:.1f}" font-size="11" '
        f'fill="{GREY}">référence</text>',
    ]
    if indicator.target_value is not None:
        ty = y(indicator.target_value)
        body += [
            f'<line x1="{left}" y1="{ty:.1f}" x2="{width - right}" y2="{ty:.1f}" '
            f'stroke="{GREEN}" stroke-width="2" stroke-dasharray="2 3"/>',
            f'<text x="{width - right}" y="{ty - 4:.1f}" font-size="11" fill="{GREEN}" '
            f'text-anchor="end">objectif</text>',
        ]
    if rates:
        step = plot_w / max(len(rates), 1)
        points = [(left + step * (i + 0.5), y(rate)) for i, rate in enumerate(rates)]
        colour = GREEN if indicator.improved else RED if indicator.improved is False else BLUE
        body.append(
            f'<polyline fill="none" stroke="{BLUE}" stroke-width="2" points="'
            + " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
            + '"/>'
        )
        fills = [BLUE] * (len(points) - 1) + [colour]
        body += [
            f'<circle cx="{px:.1f}" cy="{py:.1f}" r="4" fill="{fill}"/>'
            for (px, py), fill in zip(points, fills, strict=True)
        ]
        last = sorted(indicator.measurements, key=lambda m: m.period_end)[-1]
        body.append(
            f'<text x="{width - right}" y="{height - 6}" font-size="11" fill="{GREY}" '
            f'text-anchor="end">dernière période : {wording.day(last.period_end)}</text>'
        )
    return _svg(width, height, indicator_sentence(indicator), "".join(body))


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    alert: bool = False


def _clipped(text: str, room: int) -> str:
    """`text` cut to `room` characters, an ellipsis saying that it was (the full text is in
    the chart's sentence and on the page)."""
    return text if len(text) <= room else text[: room - 1].rstrip() + "…"


def bar_chart(title: str, bars: list[Bar], width: int = 560, label_width: int = 200) -> Markup:
    """Horizontal bars, one a line, the value written at its end; labels longer than
    `label_width` (pixels) end with an ellipsis."""
    line, label_w = 26, label_width
    room = label_w // 7  # about 7 pixels a character at 13 px
    height = max(line * len(bars), line) + 8
    top = max((bar.value for bar in bars), default=0) or 1
    body = []
    for i, bar in enumerate(bars):
        y = 4 + i * line
        length = (width - label_w - 48) * bar.value / top
        body += [
            f'<text x="{label_w - 8}" y="{y + 16}" font-size="13" text-anchor="end" '
            f'fill="#161616">{escape(_clipped(bar.label, room))}</text>',
            f'<rect x="{label_w}" y="{y + 4}" width="{max(length, 1):.1f}" height="16" '
            f'fill="{RED if bar.alert else BLUE}"/>',
            f'<text x="{label_w + length + 6:.1f}" y="{y + 16}" font-size="13" '
            f'fill="#161616">{bar.value}</text>',
        ]
    summary = (
        title
        + " : "
        + (", ".join(f"{bar.label} {bar.value}" for bar in bars) if bars else "aucune donnée")
    )
    return _svg(width, height, summary, "".join(body))
