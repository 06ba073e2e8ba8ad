"""Rate-limit headers on every response, and 429s that tests inject.

discord.py reads ``X-RateLimit-*`` headers to pace itself and retries a 429 after
``retry_after`` seconds, but only when the response carries a ``Via`` header:
without it, discord.py assumes a Cloudflare ban and raises. The emulator therefore
answers injected 429s the way Discord's API (behind Google's front end) does.
Headers describe a generous fixed window per bucket; the emulator does not enforce
it on its own (tests inject the 429s they want), it only counts what it served.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass, field

from tests.emulators.discord.clock import EmulatorClock


@dataclass
class InjectedRateLimit:
    route_substring: str
    retry_after: float
    global_: bool
    remaining: int
    scope: str


@dataclass(frozen=True)
class RateLimitServed:
    """A 429 the emulator answered."""

    method: str
    path: str
    retry_after: float
    global_: bool
    scope: str


@dataclass
class _Window:
    started: float
    used: int = 0


@dataclass
class RateLimiter:
    clock: EmulatorClock
    bucket_limit: int = 50
    bucket_window: float = 1.0
    injected: list[InjectedRateLimit] = field(default_factory=list)
    served: list[RateLimitServed] = field(default_factory=list)
    _windows: dict[str, _Window] = field(default_factory=dict)

    def inject(
        self,
        route_substring: str,
        *,
        retry_after: float = 0.05,
        global_: bool = False,
        count: int = 1,
        scope: str | None = None,
    ) -> None:
        """The next ``count`` requests whose ``"METHOD /path"`` contains ``route_substring``
        get a 429."""
        self.injected.append(
            InjectedRateLimit(
                route_substring=route_substring,
                retry_after=retry_after,
                global_=global_,
                remaining=count,
                scope=scope or ("global" if global_ else "user"),
            )
        )

    def take(self, method: str, path: str) -> InjectedRateLimit | None:
        line = f"{method} {path}"
        for injection in self.injected:
            if injection.remaining > 0 and injection.route_substring in line:
                injection.remaining -= 1
                return injection
        return None

    def record(self, method: str, path: str, injection: InjectedRateLimit) -> None:
        self.served.append(
            RateLimitServed(method, path, injection.retry_after, injection.global_, injection.scope)
        )

    @staticmethod
    def bucket_hash(route_key: str) -> str:
        return hashlib.sha1(route_key.encode()).hexdigest()[:32]

    def headers(self, route_key: str, major: str) -> dict[str, str]:
        """Headers for a normal response; each call uses one slot of the bucket's window."""
        now = self.clock.now()
        key = f"{route_key}:{major}"
        window = self._windows.get(key)
        if window is None or now - window.started >= self.bucket_window:
            window = self._windows[key] = _Window(started=now)
        window.used += 1
        reset_after = max(0.0, self.bucket_window - (now - window.started))
        return {
            "X-RateLimit-Limit": str(self.bucket_limit),
            "X-RateLimit-Remaining": str(max(0, self.bucket_limit - window.used)),
            # Epoch seconds on the client's real clock, whatever the test did to ours.
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": self.bucket_hash(route_key),
        }

    def headers_429(self, route_key: str, injection: InjectedRateLimit) -> dict[str, str]:
        headers = {
            "Retry-After": str(max(1, math.ceil(injection.retry_after))),
            "X-RateLimit-Scope": injection.scope,
            "Via": "1.1 google",
        }
        if injection.global_:
            headers["X-RateLimit-Global"] = "true"
        else:
            headers.update(
                {
                    "X-RateLimit-Limit": str(self.bucket_limit),
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Reset": f"{time.time() + injection.retry_after:.3f}",
                    "X-RateLimit-Reset-After": f"{injection.retry_after:.3f}",
                    "X-RateLimit-Bucket": self.bucket_hash(route_key),
                }
            )
        return headers
