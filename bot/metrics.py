"""Prometheus metrics: what an operator graphs to see whether members are being served.

Hand-written instead of ``prometheus-client``: the bot exports five series from one
process, the 0.0.4 text format is a page of rules, and the HTTP side (``bot.ops``)
also serves ``/ready``, so aiohttp (already a dependency) does both jobs without a
second web server in a thread. Recording is a dict update on the event loop, so the
calls below are cheap enough to make unconditionally, whether or not METRICS_PORT is
set.

The rest of the bot calls the module-level functions, which record into
:data:`REGISTRY`::

    metrics.acknowledged(0.12)                       # interaction deferred after 120 ms
    metrics.generation_finished("succeeded", None, 7.4)
    metrics.generation_finished("failed", "rate_limited", 31.0)
    metrics.queue_depth(3)                           # jobs waiting for an API slot
    metrics.api_retry()                              # one retried API call

Tests build their own :class:`Metrics` so they never see each other's numbers.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence
from typing import Final

CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"

GENERATION_BUCKETS: Final = (1.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0, 90.0, 120.0, 180.0)
"""Seconds from accepted to settled; FLUX at default settings takes ~5–20 s, retries more."""

ACK_BUCKETS: Final = (0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0, 5.0)
LAG_BUCKETS: Final = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
"""Event-loop lag: anything near 0.1 s delays every member's acknowledgement."""
"""Seconds until the interaction was acknowledged; Discord fails it after 3 s."""


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    if float(value).is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(float(value))


def _label_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(pairs: Sequence[tuple[str, str]]) -> str:
    if not pairs:
        return ""
    return "{" + ",".join(f'{key}="{_label_value(value)}"' for key, value in pairs) + "}"


def _header(name: str, kind: str, help_text: str) -> list[str]:
    return [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]


class Histogram:
    """Cumulative buckets (``le``), sum and count; Prometheus computes percentiles from them."""

    def __init__(self, buckets: Iterable[float]) -> None:
        bounds = tuple(sorted(set(buckets)))
        if not bounds or any(not math.isfinite(b) for b in bounds):
            raise ValueError("a histogram needs at least one finite bucket bound")
        self._bounds = bounds
        self._counts = [0] * (len(bounds) + 1)  # the last slot is the +Inf bucket
        self._sum = 0.0

    def observe(self, value: float) -> None:
        # A duration cannot be negative; a clock stepping back must not corrupt the sum.
        value = max(0.0, float(value))
        self._counts[bisect_left(self._bounds, value)] += 1
        self._sum += value

    @property
    def count(self) -> int:
        return sum(self._counts)

    @property
    def sum(self) -> float:
        return self._sum

    def lines(self, name: str) -> list[str]:
        out: list[str] = []
        running = 0
        for bound, count in zip((*self._bounds, math.inf), self._counts, strict=True):
            running += count
            out.append(f'{name}_bucket{{le="{_number(bound)}"}} {running}')
        out.append(f"{name}_sum {_number(self._sum)}")
        out.append(f"{name}_count {running}")
        return out


MAX_OUTCOME_SERIES = 64
"""Distinct (status, error class) pairs kept; more fold into one "other" series, so the
label set cannot grow with what callers pass (outcomes are a few dozen by design)."""

OVERFLOW_OUTCOME = ("other", "other")


class Metrics:
    """Every series the bot exports, and their text exposition."""

    def __init__(self) -> None:
        self._generations: dict[tuple[str, str], int] = {}
        self._generation_seconds = Histogram(GENERATION_BUCKETS)
        self._ack_seconds = Histogram(ACK_BUCKETS)
        self._loop_lag = Histogram(LAG_BUCKETS)
        self._queue_depth = 0
        self._api_retries = 0
        self._retry_sources: dict[int, Callable[[], int]] = {}
        self._next_source = 0

    # -- recording -------------------------------------------------------------------------

    def generation_finished(self, status: str, error_class: str | None, seconds: float) -> None:
        """A generation was settled. ``error_class`` is a short stable name, never a message:
        each distinct value becomes its own time series."""
        key = (status, error_class or "")
        if key not in self._generations and len(self._generations) >= MAX_OUTCOME_SERIES - 1:
            key = OVERFLOW_OUTCOME
        self._generations[key] = self._generations.get(key, 0) + 1
        self._generation_seconds.observe(seconds)

    def acknowledged(self, seconds: float) -> None:
        """An interaction was acknowledged ``seconds`` after Discord created it."""
        self._ack_seconds.observe(seconds)

    def loop_lag(self, seconds: float) -> None:
        """How late a periodic timer fired: time the event loop spent on something else."""
        self._loop_lag.observe(seconds)

    def queue_depth(self, waiting: int) -> None:
        """How many jobs are waiting for an API slot right now."""
        self._queue_depth = max(0, int(waiting))

    def api_retry(self, count: int = 1) -> None:
        """``count`` more API calls were retried."""
        if count < 0:
            raise ValueError("retries only ever increase")
        self._api_retries += count

    def watch_api_retries(self, read: Callable[[], int]) -> Callable[[], None]:
        """Add a client's own running retry total (read at scrape time) to the counter.

        Returns ``unwatch``: it folds the last reading into the counter, so the exported
        total never goes down when the bot replaces its API client.
        """
        source = self._next_source
        self._next_source += 1
        self._retry_sources[source] = read

        def unwatch() -> None:
            reader = self._retry_sources.pop(source, None)
            if reader is not None:
                self._api_retries += _safe_read(reader)

        return unwatch

    # -- reading ---------------------------------------------------------------------------

    @property
    def api_retries(self) -> int:
        return self._api_retries + sum(_safe_read(r) for r in self._retry_sources.values())

    @property
    def settled_total(self) -> int:
        """Generations settled so far, whatever the outcome (the shutdown line's count)."""
        return sum(self._generations.values())

    def generations(self, status: str, error_class: str | None = None) -> int:
        return self._generations.get((status, error_class or ""), 0)

    def render(self) -> str:
        """The Prometheus text exposition format, version 0.0.4."""
        lines: list[str] = []
        name = "imagine_generations_total"
        lines += _header(name, "counter", "Generations settled, by outcome and error class.")
        for (status, error_class), count in sorted(self._generations.items()):
            labels = _labels((("status", status), ("error_class", error_class)))
            lines.append(f"{name}{labels} {count}")
        name = "imagine_generation_duration_seconds"
        lines += _header(name, "histogram", "Time from accepting a generation to settling it.")
        lines += self._generation_seconds.lines(name)
        name = "imagine_acknowledgement_duration_seconds"
        lines += _header(name, "histogram", "Time from an interaction's creation to its ack.")
        lines += self._ack_seconds.lines(name)
        name = "imagine_event_loop_lag_seconds"
        lines += _header(name, "histogram", "How late a 100 ms timer fired on the event loop.")
        lines += self._loop_lag.lines(name)
        name = "imagine_queue_depth"
        lines += _header(name, "gauge", "Generations waiting for an API slot.")
        lines.append(f"{name} {self._queue_depth}")
        name = "imagine_api_retries_total"
        lines += _header(name, "counter", "Image API calls retried after a retryable failure.")
        lines.append(f"{name} {self.api_retries}")
        return "\n".join(lines) + "\n"


def _safe_read(read: Callable[[], int]) -> int:
    """A scrape must never fail because one source is not ready (e.g. before start-up ends)."""
    try:
        return max(0, int(read()))
    except Exception:
        return 0


REGISTRY: Final = Metrics()
"""The process's metrics; what ``/metrics`` serves."""


def generation_finished(status: str, error_class: str | None, seconds: float) -> None:
    REGISTRY.generation_finished(status, error_class, seconds)


def acknowledged(seconds: float) -> None:
    REGISTRY.acknowledged(seconds)


def loop_lag(seconds: float) -> None:
    REGISTRY.loop_lag(seconds)


def queue_depth(waiting: int) -> None:
    REGISTRY.queue_depth(waiting)


def api_retry(count: int = 1) -> None:
    REGISTRY.api_retry(count)
