"""/quota stats' chart and money in the moderator's language.

The chart is a picture, so what a moderator would notice is read from the pixels: the
same data drawn with German words is another picture; Japanese words, which the chart's
bundled font (DejaVu Sans) cannot draw, come out as the English picture rather than as
boxes. Money is US dollars written as the reader's locale writes an amount.
"""

from __future__ import annotations

import warnings
from datetime import date

import pytest

from bot.i18n import speech
from bot.reports import ENGLISH_CHART, ChartText, daily_chart_png, drawable
from bot.store.base import DailyTotal
from cogs.common import messages

TOTALS = [
    DailyTotal(day=date(2025, 3, d), images=d, generations=d, failures=0, cost_pico_usd=d * 10**10)
    for d in range(1, 8)
]


def test_a_translated_title_is_drawn() -> None:
    english = daily_chart_png(TOTALS)
    german = daily_chart_png(TOTALS, text=ChartText(title="Bilder pro Tag (UTC)"))
    assert german != english
    assert (
        daily_chart_png(TOTALS, text=ENGLISH_CHART) == english
    )  # the same words, the same picture


def test_words_the_font_cannot_draw_fall_back_to_english_not_boxes() -> None:
    assert drawable("Bilder pro Tag (UTC) äöü ß") and not drawable("1日あたりの画像")
    japanese = ChartText(
        title="1日あたりの画像 (UTC)", title_with_spend="1日あたりの画像と推定費用 (UTC)"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns "Glyph … missing from font(s)"
        for spend in (False, True):
            drawn = daily_chart_png(TOTALS, show_spend=spend, text=japanese)
            assert drawn == daily_chart_png(TOTALS, show_spend=spend)


def test_the_chart_text_comes_from_the_readers_voice() -> None:
    german = messages.chart_text(speech("de"))
    assert german.day(date(2025, 3, 9)) == "09.03."
    assert german.money(1234.5) == "1.234,50\xa0$"
    english = messages.chart_text(speech("en-US"))
    assert english.title == ENGLISH_CHART.title  # no catalog entry: the English source
    assert english.money(0.5) == "$0.50"


@pytest.mark.parametrize(
    ("locale", "pico", "shown"),
    [
        ("en-US", 1_234_505 * 10**9, "$1,234.51"),  # half up, like ``dollars``
        ("de", 1_234_505 * 10**9, "1.234,51\xa0$"),
        ("fr", 10**10, "0,01\xa0$US"),
        ("en-US", 1, "<$0.01"),
        ("de", 1, "<0,01\xa0$"),
        ("en-US", 0, "$0.00"),
        # Latin American Spanish reads Spain's catalog, but writes money as it does itself.
        ("es-419", 1_234_505 * 10**9, "USD1,234.51"),
        ("es-ES", 1_234_505 * 10**9, "1.234,51\xa0US$"),
        ("en-GB", 1_234_505 * 10**9, "US$1,234.51"),
    ],
)
def test_money_is_dollars_in_the_readers_notation(locale: str, pico: int, shown: str) -> None:
    assert messages.money(speech(locale), pico) == shown


def test_latin_american_spanish_reads_spains_words_in_its_own_numbers_and_dates() -> None:
    latin, spain = speech("es-419"), speech("es-ES")
    assert latin.catalog == spain.catalog == "es", "one Spanish catalog for the words"
    assert (latin.number(12345.5), spain.number(12345.5)) == ("12,345.5", "12.345,5")
    assert messages.chart_text(latin).money(1234.5) == "USD1,234.50"
    assert speech("en-GB").date(date(2025, 3, 14)) == "14/03/2025"
    assert speech("en-US").date(date(2025, 3, 14)) == "3/14/25"
