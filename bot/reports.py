"""Moderator reports: the usage log as CSV and daily totals as a PNG chart.

Both are CPU work over possibly thousands of rows, so callers run them with
``asyncio.to_thread``; neither knows anything about Discord.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from PIL import Image, ImageDraw, ImageFont

from bot.store.base import DailyTotal, GenerationRecord

CSV_COLUMNS = (
    "id", "created_at", "finished_at", "guild_id", "channel_id", "user_id", "status",
    "images_requested", "images_delivered", "error_class", "latency_ms", "prompt", "width",
    "height", "size_preset", "steps", "guidance", "acceleration", "seed", "safety_checker",
    "parent_id", "message_id",
)  # fmt: skip


def usage_csv(records: Sequence[GenerationRecord]) -> bytes:
    """One row per generation, every parameter, UTF-8 with a BOM so spreadsheets read accents."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for r in records:
        p = r.params
        writer.writerow(
            [
                r.id, r.created_at.isoformat(), r.finished_at.isoformat() if r.finished_at else "",
                r.guild_id, r.channel_id, r.user_id, r.status.value, p.count, r.delivered,
                r.error_class or "", "" if r.latency_ms is None else r.latency_ms,
                _defuse(p.prompt), p.width, p.height, p.size_preset or "", p.steps, p.guidance,
                p.acceleration, p.seed, int(p.safety_checker), r.parent_id or "",
                r.message_id or "",
            ]
        )  # fmt: skip
    return buffer.getvalue().encode("utf-8-sig")


def _defuse(text: str) -> str:
    """Stop a prompt like ``=HYPERLINK(...)`` from running as a formula in a spreadsheet."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


CHART_SIZE = (900, 420)
_BACKGROUND = (30, 31, 34)
_BAR = (124, 92, 255)
_TEXT = (219, 222, 225)
_GRID = (63, 65, 71)


def daily_chart_png(totals: Sequence[DailyTotal]) -> bytes:
    """Bars of images charged per UTC day, labelled, in Discord's dark theme."""
    width, height = CHART_SIZE
    image = Image.new("RGB", CHART_SIZE, _BACKGROUND)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=14)
    left, right, top, bottom = 56, 20, 36, 52
    draw.text((left, 10), "Images per day (UTC)", fill=_TEXT, font=font)
    peak = max((t.images for t in totals), default=0) or 1
    plot_h = height - top - bottom
    for step in range(5):
        value = round(peak * step / 4)
        y = top + plot_h - plot_h * step / 4
        draw.line([(left, y), (width - right, y)], fill=_GRID)
        draw.text((8, y - 8), str(value), fill=_TEXT, font=font)
    if totals:
        slot = (width - left - right) / len(totals)
        bar_w = max(2.0, slot * 0.7)
        label_every = max(1, len(totals) // 10)
        for index, total in enumerate(totals):
            x0 = left + index * slot + (slot - bar_w) / 2
            images_h = plot_h * total.images / peak
            base = top + plot_h
            if images_h:
                draw.rectangle([x0, base - images_h, x0 + bar_w, base], fill=_BAR)
            if index % label_every == 0:
                draw.text((x0, base + 8), total.day.strftime("%m-%d"), fill=_TEXT, font=font)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False)
    return out.getvalue()
