"""Estimated waiting time from recent service times (shown on tickets and the status page)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TypeGuard

DEFAULT_SERVICE_MINUTES = 5.0
# With this many samples, drop the fastest and slowest tenth (at least one each): a visit
# someone forgot to finish, or a consultation ended in seconds, should not swing the estimate.
TRIM_FROM = 5
TRIM_FRACTION = 0.1


def estimate_wait_s(
    waiting_ahead: int,
    recent_service_s: Sequence[float],
    serving_windows: int,
    expected_minutes: float | None,
) -> int:
    """Seconds until a ticket is likely called.

    The average visit is a trimmed mean of ``recent_service_s`` (plain mean below
    ``TRIM_FROM`` samples; non-positive or non-finite samples ignored), else
    ``expected_minutes``, else 5 minutes. The ``waiting_ahead`` tickets are served in rounds of
    ``serving_windows`` (at least 1) at once, so the wait is
    ``ceil(waiting_ahead / windows) × average``. Nobody ahead means 0: the ticket is next.

    Args:
        waiting_ahead: tickets called before this one.
        recent_service_s: durations of the queue's latest visits, in seconds.
        serving_windows: open windows serving the queue.
        expected_minutes: the service item's configured duration, if any.

    Returns:
        The estimate in whole seconds.

    Raises:
        ValueError: if ``waiting_ahead`` is negative.
    """
    if waiting_ahead < 0:
        raise ValueError(f"waiting_ahead must be >= 0, got {waiting_ahead}")
    rounds = math.ceil(waiting_ahead / max(1, serving_windows))
    return round(rounds * average_service_s(recent_service_s, expected_minutes))


def average_service_s(recent_service_s: Sequence[float], expected_minutes: float | None) -> float:
    """The typical visit length in seconds (see ``estimate_wait_s`` for the rule)."""
    samples = sorted(s for s in recent_service_s if _usable(s))
    if not samples:
        return 60.0 * (expected_minutes if _usable(expected_minutes) else DEFAULT_SERVICE_MINUTES)
    if len(samples) >= TRIM_FROM:
        cut = max(1, int(len(samples) * TRIM_FRACTION))
        samples = samples[cut:-cut]
    return sum(samples) / len(samples)


def _usable(value: float | None) -> TypeGuard[float]:
    return value is not None and math.isfinite(value) and value > 0
