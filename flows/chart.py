"""The stats chart: revenue and students with access per day (week, month) as a PNG.

matplotlib (its Agg renderer, no display) is imported on the first chart, never at start-up:
it costs a quarter of a second and tens of megabytes. Figures are made without pyplot (no
global state) and one at a time (its font cache is not safe across threads), in a worker
thread, so the event loop goes on meanwhile."""

from __future__ import annotations

import asyncio
import io
import threading
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from core.money import CURRENCIES, Money
from core.stats import Series, Unit

WIDTH, HEIGHT, DPI = 900, 560, 100  # pixels
_one_at_a_time = threading.Lock()


@dataclass(frozen=True)
class Labels:
    revenue: str  # "Revenue per day, EUR"
    active: str  # "Students with access per day"


def _tick(moment: datetime, unit: Unit, zone: ZoneInfo) -> str:
    local = moment.astimezone(zone)
    return f"{local:%Y-%m}" if unit is Unit.MONTH else f"{local:%m-%d}"


def _major(amounts: list[int], currency: str) -> list[float]:
    if currency not in CURRENCIES:
        return [float(a) for a in amounts]
    return [float(Money(a, currency).major) for a in amounts]


def draw(series: Series, currency: str, labels: Labels, zone: ZoneInfo) -> bytes:
    """The chart as PNG bytes, WIDTH x HEIGHT pixels."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    periods = len(series.edges) - 1
    ticks = [_tick(start, series.unit, zone) for start in series.edges[:-1]]
    revenue = _major(series.revenue.get(currency, [0] * periods), currency)
    places = list(range(periods))
    with _one_at_a_time:
        figure = Figure(figsize=(WIDTH / DPI, HEIGHT / DPI), dpi=DPI)
        FigureCanvasAgg(figure)
        money_axes, people_axes = figure.subplots(2, 1, sharex=True)
        money_axes.bar(places, revenue,  # a day that gave back more than it took: red
                       color=["#d8553b" if value < 0 else "#3b7dd8" for value in revenue])
        money_axes.axhline(0, color="#888888", linewidth=0.8)
        money_axes.set_title(labels.revenue, fontsize=11, loc="left")
        people_axes.plot(places, series.active, color="#2e9e57", marker="o", markersize=3)
        people_axes.fill_between(places, series.active, color="#2e9e57", alpha=0.15)
        people_axes.set_title(labels.active, fontsize=11, loc="left")
        people_axes.yaxis.set_major_locator(MaxNLocator(integer=True))
        people_axes.set_ylim(bottom=0)
        step = max(1, periods // 12)
        people_axes.set_xticks(places[::step], ticks[::step], rotation=0, fontsize=8)
        for axes in (money_axes, people_axes):
            axes.grid(axis="y", alpha=0.3)
            axes.spines[["top", "right"]].set_visible(False)
        # Fixed margins: matplotlib's tight layout would cost as much as the drawing.
        figure.subplots_adjust(left=0.08, right=0.98, top=0.93, bottom=0.07, hspace=0.32)
        out = io.BytesIO()
        figure.savefig(out, format="png", dpi=DPI)
    return out.getvalue()


async def chart(series: Series, currency: str, labels: Labels, zone: ZoneInfo) -> bytes:
    return await asyncio.to_thread(draw, series, currency, labels, zone)
