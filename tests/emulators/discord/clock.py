"""The emulator's notion of time.

Discord's interaction rules are about time (3 s to acknowledge, 15 min of token
life). Tests must not sleep for that long, so every rule reads this clock, and a
test moves it forward with :meth:`EmulatorClock.advance`. Real time still passes
underneath: the clock is ``time.monotonic()`` plus an offset the test controls.
"""

from __future__ import annotations

import time


class EmulatorClock:
    """Monotonic time plus a test-controlled offset (seconds)."""

    def __init__(self) -> None:
        self._offset = 0.0

    @property
    def offset(self) -> float:
        """How far the test has pushed time forward, in seconds."""
        return self._offset

    def now(self) -> float:
        """Monotonic seconds, for deadlines such as the 3 s acknowledgement rule."""
        return time.monotonic() + self._offset

    def wall(self) -> float:
        """Unix seconds, for timestamps that end up in payloads (message timestamps)."""
        return time.time() + self._offset

    def advance(self, seconds: float) -> None:
        """Jump forward, as if ``seconds`` had passed. Time never goes backwards."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self._offset += seconds
