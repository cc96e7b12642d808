"""Estimated waiting time from recent service times."""

from __future__ import annotations

import math

import pytest

from server.domain.eta import average_service_s, estimate_wait_s


@pytest.mark.parametrize(
    ("ahead", "recent", "windows", "expected_minutes", "seconds"),
    [
        (0, [300.0], 1, None, 0),  # next in line
        (3, [], 1, None, 900),  # no history, no expectation: 5 minutes each
        (3, [], 1, 4.0, 720),  # the ticket sample: 3 ahead, about 12 minutes
        (3, [120.0, 240.0], 1, 10.0, 540),  # history beats the configured minutes
        (3, [180.0], 2, None, 360),  # two windows: two rounds
        (4, [180.0], 2, None, 360),
        (5, [180.0], 0, None, 900),  # no window open counts as one
        (2, [0.0, -5.0, math.nan, math.inf], 1, None, 600),  # unusable samples ignored
        (1, [], 1, 0.0, 300),  # a zero expectation falls back too
    ],
)
def test_estimate_wait(
    ahead: int, recent: list[float], windows: int, expected_minutes: float | None, seconds: int
) -> None:
    """The wait is rounds of serving windows times the average visit."""
    assert estimate_wait_s(ahead, recent, windows, expected_minutes) == seconds


def test_trimmed_mean_drops_outliers() -> None:
    """From five samples on, the fastest and slowest tenth are dropped."""
    assert average_service_s([300, 300, 300, 10, 7200], None) == 300
    assert average_service_s([10, 7200], None) == 3605
    assert average_service_s([100.0] * 18 + [1.0, 9000.0], None) == 100


def test_negative_ahead_rejected() -> None:
    """A negative count ahead is a programming error."""
    with pytest.raises(ValueError, match="waiting_ahead"):
        estimate_wait_s(-1, [], 1, None)
