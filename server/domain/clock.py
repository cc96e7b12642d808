"""The one time source: aware UTC wall time plus a monotonic reading, swappable in tests."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Wall time for business rules, monotonic time for timeouts."""

    def now(self) -> datetime:
        """The current instant, timezone-aware, in UTC."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (only differences mean anything)."""
        ...


class SystemClock:
    """The real clocks of this machine."""

    __slots__ = ()

    def now(self) -> datetime:
        """The current instant from the system clock, in UTC."""
        return datetime.now(UTC)

    def monotonic(self) -> float:
        """``time.monotonic()``: unaffected by NTP steps or manual clock changes."""
        return time.monotonic()


class ManualClock:
    """A clock tests move by hand, e.g. across midnight in Asia/Shanghai.

    ``set`` jumps the wall clock without touching the monotonic reading (like an NTP step on a
    real machine); ``advance`` moves both, as real time passing does.
    """

    __slots__ = ("_mono", "_now")

    def __init__(self, start: datetime) -> None:
        self._now = _utc(start)
        self._mono = 0.0

    def now(self) -> datetime:
        """The instant the clock was last set or advanced to, in UTC."""
        return self._now

    def monotonic(self) -> float:
        """Total seconds advanced since construction."""
        return self._mono

    def set(self, dt: datetime) -> None:
        """Jump the wall clock to ``dt`` (aware); the monotonic reading stays.

        Raises:
            ValueError: if ``dt`` is naive.
        """
        self._now = _utc(dt)

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` pass on both clocks.

        Raises:
            ValueError: if ``seconds`` is negative (time passing never goes back).
        """
        if seconds < 0:
            raise ValueError(f"advance() takes seconds >= 0, got {seconds}; use set() to jump")
        self._now += timedelta(seconds=seconds)
        self._mono += seconds


def _utc(dt: datetime) -> datetime:
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"expected a timezone-aware datetime, got naive {dt.isoformat()}")
    return dt.astimezone(UTC)
