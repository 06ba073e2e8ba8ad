"""Moderator reports: the usage log as CSV and daily totals as a PNG chart.

Both are CPU work over possibly thousands of rows, so callers run them with
``asyncio.to_thread``; neither knows anything about Discord.

The chart is drawn by matplotlib, imported on the first chart (in that thread), so
neither start-up nor any acknowledgement waits for it. It brings its own opaque
background with colours that keep their contrast, so it reads the same in Discord's
dark and light themes (see ``CHART_THEME``). Its words come from the caller
(:class:`ChartText`, in the reader's language); a word the chart's font cannot draw
(the DejaVu Sans matplotlib ships has no Japanese) is drawn in English instead of boxes.
"""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Final

from bot.policy.spend import exact_usd
from bot.store.base import DailyTotal, GenerationRecord

CSV_COLUMNS = (
    "id", "created_at", "finished_at", "guild_id", "channel_id", "user_id", "status",
    "images_requested", "images_delivered", "error_class", "latency_ms", "prompt", "width",
    "height", "size_preset", "steps", "guidance", "acceleration", "seed", "safety_checker",
    "parent_id", "message_id",
)  # fmt: skip
COST_COLUMN: Final = "cost_usd"


def usage_csv(records: Sequence[GenerationRecord], *, with_cost: bool = False) -> bytes:
    """One row per generation, every parameter, UTF-8 with a BOM so spreadsheets read accents.

    The column names and values (``status``, ``created_at`` in ISO 8601, ``.`` decimals)
    stay English whoever exports: a CSV is a data format that spreadsheets, scripts and
    other servers' exports are read with, and a header that changed with a moderator's
    language would break every formula and script built on it.

    ``with_cost`` (a price is set) adds ``cost_usd``: each row's estimated cost with every
    digit (``0.0196608``), so the column sums exactly to what ``/quota stats`` shows.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow((*CSV_COLUMNS, COST_COLUMN) if with_cost else CSV_COLUMNS)
    for r in records:
        p = r.params
        cost = (
            [] if not with_cost else ["" if r.cost_pico_usd is None else exact_usd(r.cost_pico_usd)]
        )
        writer.writerow(
            [
                r.id, r.created_at.isoformat(), r.finished_at.isoformat() if r.finished_at else "",
                r.guild_id, r.channel_id, r.user_id, r.status.value, p.count, r.delivered,
                r.error_class or "", "" if r.latency_ms is None else r.latency_ms,
                _defuse(p.prompt), p.width, p.height, p.size_preset or "", p.steps, p.guidance,
                p.acceleration, p.seed, int(p.safety_checker), r.parent_id or "",
                r.message_id or "", *cost,
            ]
        )  # fmt: skip
    return buffer.getvalue().encode("utf-8-sig")


def _defuse(text: str) -> str:
    """Stop a prompt like ``=HYPERLINK(...)`` from running as a formula in a spreadsheet."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


CHART_SIZE: Final = (900, 420)
"""Pixels. Wide and short: it sits under an embed on desktop and phone alike."""

CHART_THEME: Final = {
    "background": "#2B2D31",  # an opaque card: never blends into either Discord theme
    "border": "#80848E",  # mid grey: the card's edge shows on dark (#313338) and light (#FFF)
    "text": "#F2F3F5",  # 12:1 against the card
    "grid": "#4E5058",
    "images": "#7C8CFF",  # bars; 4:1 against the card
    "spend": "#57F287",  # the spend line, on its own axis; 9:1 against the card
}

_DPI: Final = 100
_render_lock = threading.Lock()  # matplotlib's font cache and state are not thread-safe


def _month_day(day: date) -> str:
    return day.strftime("%m-%d")


def _dollar_tick(value: float) -> str:
    return f"${value:,.2f}"


@dataclass(frozen=True)
class ChartText:
    """Every word and label on the chart, in the reader's language (the cogs translate).

    ``day`` writes a tick's date, ``money`` a spend tick (dollars, drawing only). The
    defaults are the English source texts, also drawn where the font lacks a script.
    """

    title: str = "Images per day (UTC)"
    title_with_spend: str = "Images (bars) and estimated spend (line) per day, UTC"
    images: str = "images"
    spend: str = "spend"
    day: Callable[[date], str] = _month_day
    money: Callable[[float], str] = _dollar_tick


ENGLISH_CHART: Final = ChartText()


def daily_chart_png(
    totals: Sequence[DailyTotal], *, show_spend: bool = False, text: ChartText = ENGLISH_CHART
) -> bytes:
    """Bars of images charged per UTC day; with ``show_spend`` the estimated dollars too.

    Call it in a thread (``asyncio.to_thread``): the first call imports matplotlib.
    """
    with _render_lock:
        return _render(totals, show_spend, text)


@cache
def _drawable_characters() -> frozenset[int]:
    """The code points the chart's font has glyphs for (read once, in the render thread)."""
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    path = font_manager.findfont(font_manager.FontProperties())
    return frozenset(FT2Font(path).get_charmap())


def drawable(text: str) -> bool:
    """Whether the chart's font draws every character of ``text``."""
    glyphs = _drawable_characters()
    return all(ord(c) in glyphs for c in text)


def _shown(translated: str, english: str) -> str:
    return translated if drawable(translated) else english


def _render(totals: Sequence[DailyTotal], show_spend: bool, text: ChartText) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    theme = CHART_THEME
    width, height = CHART_SIZE
    figure = Figure(figsize=(width / _DPI, height / _DPI), dpi=_DPI)
    FigureCanvasAgg(figure)
    figure.patch.set_facecolor(theme["background"])
    figure.patch.set_edgecolor(theme["border"])
    figure.patch.set_linewidth(2)
    axes = figure.add_subplot()
    axes.set_facecolor(theme["background"])
    english = ENGLISH_CHART
    days = [_shown(text.day(t.day), english.day(t.day)) for t in totals]
    positions = list(range(len(totals)))
    axes.bar(positions, [t.images for t in totals], color=theme["images"], width=0.7,
             label=_shown(text.images, english.images), zorder=2)  # fmt: skip
    axes.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=5))
    axes.set_ylim(bottom=0, top=max([*(t.images for t in totals), 1]) * 1.15)
    axes.grid(axis="y", color=theme["grid"], linewidth=0.8, zorder=0)
    axes.set_axisbelow(True)
    label_every = max(1, len(totals) // 10)
    axes.set_xticks(positions[::label_every], days[::label_every])
    axes.set_xlim(-0.6, max(len(totals) - 0.4, 0.4))
    title = _shown(text.title, english.title)
    styled = [axes]
    if show_spend:
        spend_axes = axes.twinx()
        spend = [t.cost_pico_usd / 10**12 for t in totals]  # drawing only: text stays exact
        spend_axes.plot(positions, spend, color=theme["spend"], marker="o", linewidth=2.2,
                        markersize=4, label=_shown(text.spend, english.spend),
                        zorder=3)  # fmt: skip
        spend_axes.set_ylim(bottom=0, top=max([*spend, 0.01]) * 1.15)
        spend_axes.yaxis.set_major_formatter(
            FuncFormatter(lambda v, _: _shown(text.money(v), english.money(v)))
        )
        spend_axes.yaxis.set_major_locator(MaxNLocator(nbins=5))
        spend_axes.tick_params(axis="y", colors=theme["spend"], labelsize=10)
        title = _shown(text.title_with_spend, english.title_with_spend)
        styled.append(spend_axes)
    for each in styled:
        for side in each.spines.values():
            side.set_color(theme["grid"])
    axes.tick_params(colors=theme["text"], labelsize=10)
    # parse_math off: a translated title with two "$" must not turn into mathtext
    axes.set_title(title, color=theme["text"], fontsize=12, loc="left", pad=10, parse_math=False)
    figure.tight_layout(pad=1.2)
    out = io.BytesIO()
    figure.savefig(out, format="png", facecolor=figure.get_facecolor(),
                   edgecolor=figure.get_edgecolor())  # fmt: skip
    return out.getvalue()
