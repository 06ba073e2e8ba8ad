"""Metrics: what a Prometheus server scraping /metrics would read.

The exposition is checked with a strict parser of the 0.0.4 text format written here
from the format's rules (not from bot/metrics.py), so a malformed line fails a test
instead of silently breaking an owner's dashboards.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import pytest

from bot import metrics
from bot.metrics import MAX_OUTCOME_SERIES, OVERFLOW_OUTCOME, Metrics

_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_SAMPLE = re.compile(rf"^({_NAME})(?:\{{(.*)\}})? (\S+)$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\["\\n])*)"(,|$)')


@dataclass
class Family:
    kind: str
    help: str = ""
    samples: list[tuple[str, dict[str, str], float]] = field(default_factory=list)


def _value(text: str) -> float:
    if text in ("+Inf", "-Inf", "NaN"):
        return float(text.replace("Inf", "inf").replace("NaN", "nan"))
    return float(text)


def _labels(text: str) -> dict[str, str]:
    labels: dict[str, str] = {}
    position = 0
    while position < len(text):
        match = _LABEL.match(text, position)
        assert match, f"bad label syntax at {text[position:]!r}"
        raw = match.group(2)
        labels[match.group(1)] = raw.replace("\\n", "\n").replace('\\"', '"').replace("\\\\", "\\")
        position = match.end()
    return labels


def parse_exposition(text: str) -> dict[str, Family]:
    """Families by name; asserts the format's rules along the way."""
    assert text.endswith("\n"), "the exposition ends with a line feed"
    families: dict[str, Family] = {}
    helps: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name, _, help_text = line[len("# HELP ") :].partition(" ")
            helps[name] = help_text
            continue
        if line.startswith("# TYPE "):
            name, kind = line[len("# TYPE ") :].split(" ")
            assert kind in ("counter", "gauge", "histogram", "summary", "untyped"), line
            assert name not in families, f"{name} declared twice"
            families[name] = Family(kind, helps.get(name, ""))
            continue
        assert not line.startswith("#") and line, f"unexpected line {line!r}"
        match = _SAMPLE.match(line)
        assert match, f"malformed sample {line!r}"
        name, labels, value = match.group(1), _labels(match.group(2) or ""), _value(match.group(3))
        owner = next(
            (
                families[base]
                for base in (name, re.sub(r"_(bucket|sum|count)$", "", name))
                if base in families
            ),
            None,
        )
        assert owner is not None, f"sample {name} has no TYPE line before it"
        owner.samples.append((name, labels, value))
    return families


def histogram_of(family: Family, name: str) -> tuple[list[tuple[float, float]], float, float]:
    assert family.kind == "histogram"
    buckets = [
        (_value(labels["le"]), v) for n, labels, v in family.samples if n == f"{name}_bucket"
    ]
    total = next(v for n, _, v in family.samples if n == f"{name}_sum")
    count = next(v for n, _, v in family.samples if n == f"{name}_count")
    return buckets, total, count


def test_a_fresh_bot_exports_every_series_with_help_and_type() -> None:
    families = parse_exposition(Metrics().render())
    assert {name: f.kind for name, f in families.items()} == {
        "imagine_generations_total": "counter",
        "imagine_generation_duration_seconds": "histogram",
        "imagine_acknowledgement_duration_seconds": "histogram",
        "imagine_event_loop_lag_seconds": "histogram",
        "imagine_queue_depth": "gauge",
        "imagine_api_retries_total": "counter",
    }
    assert all(f.help for f in families.values())
    assert families["imagine_queue_depth"].samples == [("imagine_queue_depth", {}, 0.0)]
    assert families["imagine_api_retries_total"].samples[0][2] == 0


def test_generations_are_counted_by_status_and_error_class() -> None:
    registry = Metrics()
    registry.generation_finished("succeeded", None, 6.0)
    registry.generation_finished("succeeded", None, 8.0)
    registry.generation_finished("failed", "rate_limited", 31.0)
    samples = parse_exposition(registry.render())["imagine_generations_total"].samples
    assert sorted((labels["status"], labels["error_class"], v) for _, labels, v in samples) == [
        ("failed", "rate_limited", 1),
        ("succeeded", "", 2),
    ]
    assert registry.generations("succeeded") == 2


def test_generation_latency_is_a_cumulative_histogram() -> None:
    registry = Metrics()
    for seconds in (0.4, 4.0, 5.0, 7.5, 400.0):
        registry.generation_finished("succeeded", None, seconds)
    family = parse_exposition(registry.render())["imagine_generation_duration_seconds"]
    buckets, total, count = histogram_of(family, "imagine_generation_duration_seconds")
    bounds = [b for b, _ in buckets]
    assert bounds == sorted(bounds) and bounds[-1] == math.inf
    counts = [c for _, c in buckets]
    assert counts == sorted(counts), "buckets are cumulative"
    by_bound = dict(buckets)
    assert by_bound[1.0] == 1  # 0.4
    assert by_bound[5.0] == 3  # le is inclusive: 5.0 falls in the 5 s bucket
    assert by_bound[10.0] == 4
    assert by_bound[math.inf] == count == 5
    assert total == pytest.approx(416.9)


def test_acknowledgement_buckets_resolve_discords_three_second_deadline() -> None:
    registry = Metrics()
    registry.acknowledged(0.08)
    registry.acknowledged(2.9)
    registry.acknowledged(3.4)
    family = parse_exposition(registry.render())["imagine_acknowledgement_duration_seconds"]
    buckets, _, count = histogram_of(family, "imagine_acknowledgement_duration_seconds")
    by_bound = dict(buckets)
    assert by_bound[0.1] == 1
    assert by_bound[3.0] == 2, "acks within the deadline are readable as le=3"
    assert count == 3


def test_queue_depth_is_the_latest_value() -> None:
    registry = Metrics()
    registry.queue_depth(5)
    registry.queue_depth(2)
    samples = parse_exposition(registry.render())["imagine_queue_depth"].samples
    assert samples == [("imagine_queue_depth", {}, 2.0)]


def test_api_retries_add_the_clients_running_total_and_never_go_down() -> None:
    registry = Metrics()
    registry.api_retry()
    client_total = 3
    unwatch = registry.watch_api_retries(lambda: client_total)
    assert registry.api_retries == 4
    client_total = 5
    assert registry.api_retries == 6
    unwatch()  # the bot closed; its client's 5 retries stay counted
    unwatch()  # idempotent
    assert registry.api_retries == 6
    registry.watch_api_retries(lambda: 1)  # a restarted client counts from zero again
    samples = parse_exposition(registry.render())["imagine_api_retries_total"].samples
    assert samples[0][2] == 7


def test_a_failing_retry_source_does_not_break_the_scrape() -> None:
    registry = Metrics()

    def not_started() -> int:
        raise AttributeError("siraya")

    registry.watch_api_retries(not_started)
    assert parse_exposition(registry.render())["imagine_api_retries_total"].samples[0][2] == 0
    with pytest.raises(ValueError):
        registry.api_retry(-1)


def test_label_values_are_escaped() -> None:
    registry = Metrics()
    registry.generation_finished("failed", 'odd "class"\\\nname', 1.0)
    samples = parse_exposition(registry.render())["imagine_generations_total"].samples
    assert samples[0][1]["error_class"] == 'odd "class"\\\nname'


def test_negative_durations_are_clamped() -> None:
    registry = Metrics()
    registry.acknowledged(-3.0)  # a clock stepped back
    family = parse_exposition(registry.render())["imagine_acknowledgement_duration_seconds"]
    _, total, count = histogram_of(family, "imagine_acknowledgement_duration_seconds")
    assert total == 0 and count == 1


def test_module_functions_record_into_the_served_registry() -> None:
    before = metrics.REGISTRY.generations("succeeded", "test_only")
    retries = metrics.REGISTRY.api_retries
    metrics.generation_finished("succeeded", "test_only", 1.0)
    metrics.acknowledged(0.2)
    metrics.queue_depth(1)
    metrics.api_retry()
    assert metrics.REGISTRY.generations("succeeded", "test_only") == before + 1
    assert metrics.REGISTRY.api_retries == retries + 1
    metrics.queue_depth(0)


def test_outcome_label_sets_are_bounded_whatever_callers_pass() -> None:
    """Each (status, error class) pair is a time series: a caller passing, say, an API
    message would otherwise add one per request ever served."""
    registry = Metrics()
    for n in range(1000):
        registry.generation_finished("failed", f"unusual-{n}", 0.1)
    assert len(registry._generations) <= MAX_OUTCOME_SERIES
    assert registry.settled_total == 1000, "every outcome is still counted"
    assert registry.generations(*OVERFLOW_OUTCOME) > 0
    families = parse_exposition(registry.render())
    assert len(families["imagine_generations_total"].samples) <= MAX_OUTCOME_SERIES
