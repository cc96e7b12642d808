"""The Clock abstraction: aware UTC time, a monotonic reading, and a manual clock for tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from server.domain.clock import Clock, ManualClock, SystemClock
from server.domain.numbering import business_date

from .factories import SHANGHAI


def test_system_clock_is_aware_utc_and_monotonic() -> None:
    """The system clock gives aware UTC instants and a non-decreasing monotonic reading."""
    clock: Clock = SystemClock()
    now = clock.now()
    assert now.tzinfo is not None and now.utcoffset() == timedelta(0)
    first = clock.monotonic()
    assert clock.monotonic() >= first


def test_manual_clock_crosses_midnight_in_shanghai() -> None:
    """Advancing a manual clock past 16:00 UTC moves the Shanghai business date."""
    clock: Clock = ManualClock(datetime(2026, 11, 27, 23, 59, 59, 900000, tzinfo=SHANGHAI))
    assert isinstance(clock, ManualClock)
    assert clock.now() == datetime(2026, 11, 27, 15, 59, 59, 900000, tzinfo=UTC)
    assert clock.now().tzinfo is UTC
    assert business_date(clock.now(), SHANGHAI).day == 27
    clock.advance(0.1)
    assert business_date(clock.now(), SHANGHAI).day == 28
    assert clock.monotonic() == pytest.approx(0.1)


def test_manual_set_does_not_move_monotonic() -> None:
    """Setting the wall clock jumps it (any offset, stored as UTC); monotonic time stays."""
    clock = ManualClock(datetime(2026, 11, 27, tzinfo=UTC))
    clock.advance(5)
    clock.set(datetime(2026, 11, 26, 8, 0, tzinfo=timezone(timedelta(hours=8))))
    assert clock.now() == datetime(2026, 11, 26, 0, 0, tzinfo=UTC)
    assert clock.now().tzinfo is UTC
    assert clock.monotonic() == 5


def test_manual_clock_refuses_naive_and_backwards() -> None:
    """A manual clock refuses naive datetimes and negative advances."""
    with pytest.raises(ValueError, match="timezone-aware"):
        ManualClock(datetime(2026, 11, 27))
    clock = ManualClock(datetime(2026, 11, 27, tzinfo=UTC))
    with pytest.raises(ValueError, match="timezone-aware"):
        clock.set(datetime(2026, 11, 28))
    with pytest.raises(ValueError, match="advance"):
        clock.advance(-1)
