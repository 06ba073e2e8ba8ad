"""Prometheus metrics: what an operator graphs to see whether members are being served.

The exposition comes from ``prometheus_client`` (the official client: the text format's
escaping and histogram rules are its job, not ours). Measured against the hand-written
exposition it replaced (see the commit): ~5 µs more per request and ~0.3 ms per scrape,
a few MiB at import; small next to a generation's seconds. The HTTP side (``bot.ops``)
stays on aiohttp, which also serves ``/ready``, so there is no second web server in a
thread. Recording is cheap enough to do unconditionally, whether or not METRICS_PORT is
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

from collections.abc import Callable, Iterator
from typing import Final

import prometheus_client
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

# One series per counter: the *_created companions only double what a dashboard reads.
prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call]

CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"
"""What the exposition is: plain names and labels, readable by every Prometheus."""

GENERATION_BUCKETS: Final = (1.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0, 90.0, 120.0, 180.0)
"""Seconds from accepted to settled; FLUX at default settings takes ~5–20 s, retries more."""

ACK_BUCKETS: Final = (0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0, 5.0)
"""Seconds until the interaction was acknowledged; Discord fails it after 3 s."""

LAG_BUCKETS: Final = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
"""Event-loop lag: anything near 0.1 s delays every member's acknowledgement."""


MAX_OUTCOME_SERIES = 64
"""Distinct (status, error class) pairs kept; more fold into one "other" series, so the
label set cannot grow with what callers pass (outcomes are a few dozen by design)."""

OVERFLOW_OUTCOME = ("other", "other")


class _ApiRetries(Collector):
    """``imagine_api_retries_total``, read at scrape time from the API clients' own totals."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[CounterMetricFamily]:
        yield CounterMetricFamily(
            "imagine_api_retries",
            "Image API calls retried after a retryable failure.",
            value=self._metrics.api_retries,
        )


class Metrics:
    """Every series the bot exports, in a registry of its own, and their exposition."""

    def __init__(self) -> None:
        self._registry = CollectorRegistry(auto_describe=True)
        self._outcomes = Counter(
            "imagine_generations",
            "Generations settled, by outcome and error class.",
            ["status", "error_class"],
            registry=self._registry,
        )
        self._generation_seconds = Histogram(
            "imagine_generation_duration_seconds",
            "Time from accepting a generation to settling it.",
            buckets=GENERATION_BUCKETS,
            registry=self._registry,
        )
        self._ack_seconds = Histogram(
            "imagine_acknowledgement_duration_seconds",
            "Time from an interaction's creation to its ack.",
            buckets=ACK_BUCKETS,
            registry=self._registry,
        )
        self._loop_lag = Histogram(
            "imagine_event_loop_lag_seconds",
            "How late a 100 ms timer fired on the event loop.",
            buckets=LAG_BUCKETS,
            registry=self._registry,
        )
        self._queue_depth = Gauge(
            "imagine_queue_depth", "Generations waiting for an API slot.", registry=self._registry
        )
        self._generations: dict[tuple[str, str], int] = {}
        """The counter's values, kept for reading back (``prometheus_client`` keeps its own)."""
        self._api_retries = 0
        self._retry_sources: dict[int, Callable[[], int]] = {}
        self._next_source = 0
        self._registry.register(_ApiRetries(self))  # collects once here: after the fields

    # -- recording -------------------------------------------------------------------------

    def generation_finished(self, status: str, error_class: str | None, seconds: float) -> None:
        """A generation was settled. ``error_class`` is a short stable name, never a message:
        each distinct value becomes its own time series."""
        key = (status, error_class or "")
        if key not in self._generations and len(self._generations) >= MAX_OUTCOME_SERIES - 1:
            key = OVERFLOW_OUTCOME
        self._generations[key] = self._generations.get(key, 0) + 1
        self._outcomes.labels(*key).inc()
        self._generation_seconds.observe(_duration(seconds))

    def acknowledged(self, seconds: float) -> None:
        """An interaction was acknowledged ``seconds`` after Discord created it."""
        self._ack_seconds.observe(_duration(seconds))

    def loop_lag(self, seconds: float) -> None:
        """How late a periodic timer fired: time the event loop spent on something else."""
        self._loop_lag.observe(_duration(seconds))

    def queue_depth(self, waiting: int) -> None:
        """How many jobs are waiting for an API slot right now."""
        self._queue_depth.set(max(0, int(waiting)))

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
        """The Prometheus text exposition (``CONTENT_TYPE``)."""
        return generate_latest(self._registry).decode()


def _duration(seconds: float) -> float:
    """A duration cannot be negative; a clock stepping back must not corrupt the sum."""
    return max(0.0, float(seconds))


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
