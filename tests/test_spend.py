"""Money as owners and moderators read it: a price parsed exactly, dollars rounded once."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from bot.config import ConfigProblems, settings_from_mapping
from bot.policy.spend import Price, PriceError, dollars, exact_usd
from bot.reports import usage_csv
from bot.store.base import GenerationParams, GenerationRecord, GenerationStatus

REQUIRED = {"DISCORD_TOKEN": "x.y.z", "SIRAYA_API_KEY": "sk-test"}


def test_a_price_is_kept_exactly_in_micro_dollars() -> None:
    assert Price.parse("0.025").micro_usd_per_megapixel == 25_000
    assert Price.parse("$0.000001").micro_usd_per_megapixel == 1
    assert Price.parse("0").micro_usd_per_megapixel == 0
    # 1024 × 768 × 3 images at $0.025: 0.0589824 dollars, exactly.
    assert exact_usd(Price.parse("0.025").cost_pico_usd(1024, 768, 3)) == "0.0589824"


@pytest.mark.parametrize("text", ["cheap", "-0.01", "0.0000001", "1e999", "nan", "101"])
def test_unusable_prices_are_refused_with_a_reason(text: str) -> None:
    with pytest.raises(PriceError):
        Price.parse(text)


def test_dollars_round_once_half_up_and_tiny_amounts_are_not_zero() -> None:
    assert dollars(0) == "$0.00"
    assert dollars(100_000_000_000) == "$0.10"
    assert dollars(5_000_000_000) == "$0.01"  # half a cent rounds up
    assert dollars(1) == "<$0.01"
    assert dollars(1_234_567 * 10**12) == "$1,234,567.00"


def test_settings_read_the_price_and_retention() -> None:
    settings = settings_from_mapping(REQUIRED)
    assert settings.price_per_megapixel is None
    assert (settings.retention_days, settings.audit_retention_days) == (180, 365)
    settings = settings_from_mapping(
        {**REQUIRED, "SIRAYA_PRICE_PER_MEGAPIXEL": "0.025", "RETENTION_DAYS": "30"}
    )
    assert settings.price_per_megapixel == Price(25_000) and settings.retention_days == 30
    with pytest.raises(ConfigProblems) as problems:
        settings_from_mapping(
            {**REQUIRED, "SIRAYA_PRICE_PER_MEGAPIXEL": "free", "RETENTION_DAYS": "0"}
        )
    text = str(problems.value)
    assert "SIRAYA_PRICE_PER_MEGAPIXEL" in text and "RETENTION_DAYS" in text


def record(cost: int | None) -> GenerationRecord:
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    return GenerationRecord(
        id=1, parent_id=None, guild_id=1, channel_id=2, user_id=3,
        params=GenerationParams("p", 1024, 768, None, 28, 4.5, "regular", 1, True, 1),
        status=GenerationStatus.SUCCEEDED, reserved=0, delivered=1, error_class=None,
        latency_ms=1, message_id=None, created_at=moment, started_at=None, finished_at=moment,
        cost_pico_usd=cost,
    )  # fmt: skip


def test_the_export_has_cost_usd_only_when_a_price_is_set() -> None:
    plain = next(csv.reader(io.StringIO(usage_csv([record(None)]).decode("utf-8-sig"))))
    assert "cost_usd" not in plain
    rows = list(
        csv.DictReader(
            io.StringIO(
                usage_csv([record(19_660_800_000), record(None)], with_cost=True).decode(
                    "utf-8-sig"
                )
            )
        )
    )
    assert [r["cost_usd"] for r in rows] == ["0.0196608", ""]


def test_starting_the_bot_does_not_import_matplotlib() -> None:
    """The chart library loads on the first chart, in its thread, never at start-up."""
    code = "import sys, bot.app, cogs.quota, bot.reports; print('matplotlib' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "False"
