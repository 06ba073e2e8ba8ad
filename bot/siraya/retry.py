"""How long to wait before trying the API again.

Full jitter (a uniform pick between 0 and the exponential cap) spreads the retries
of many queued jobs apart, so a provider recovering from an outage is not hit by
all of them in the same second. A server's ``Retry-After`` is a floor: waiting
less only earns another 429.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Limits for one ``generate()`` call; rate limits are unpublished, so these are settings."""

    max_attempts: int = 4
    """HTTP attempts in total (first try included), for the generation and for each download."""
    base_delay: float = 1.0
    max_delay: float = 20.0
    """Cap on the backoff; a longer ``Retry-After`` is still honoured (the deadline bounds it)."""
    deadline: float = 180.0
    """Overall seconds for one generate(), retries and downloads included."""

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base_delay < 0 or self.max_delay < 0 or self.deadline <= 0:
            raise ValueError("delays must be non-negative and the deadline positive")

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Delay after the ``attempt``-th failure (1-based), before any Retry-After."""
        cap = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return rng.uniform(0.0, cap)

    def delay(self, attempt: int, rng: random.Random, retry_after: float | None) -> float:
        backoff = self.backoff(attempt, rng)
        return backoff if retry_after is None else max(retry_after, backoff)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date.

    Unparseable values are ignored (None) rather than trusted: the backoff still applies.
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if seconds == seconds else None  # reject NaN
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000" dates parse naive; HTTP dates are always UTC
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
