"""Jittered exponential back-off between reconnection attempts."""

from __future__ import annotations

import random

_MAX_DOUBLINGS = 30  # 2**30 × any sane initial delay is far past every cap: no float overflow


def backoff_delay(attempt: int, initial: float, maximum: float, rng: random.Random) -> float:
    """Seconds to wait before reconnection attempt ``attempt`` (0 for the first retry).

    "Equal jitter": half the capped exponential delay is kept and the other half drawn at
    random, so a hall of screens dropped at once does not come back in lock-step, yet no
    client retries faster than ``initial / 2``.

    Args:
        attempt: failed attempts since the last successful sync.
        initial: the delay cap of the first retry, seconds.
        maximum: the largest delay, seconds.
        rng: the random source (seeded in tests).

    Returns:
        A delay in ``[cap / 2, cap]`` where ``cap = min(maximum, initial * 2**attempt)``.
    """
    cap = min(maximum, initial * 2.0 ** min(max(attempt, 0), _MAX_DOUBLINGS))
    return cap / 2 + rng.uniform(0, cap / 2)
