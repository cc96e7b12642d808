"""Next-ticket selection for a window: lane policies, the max-wait guard, and why each call.

Per queue, in this order:

1. a pinned head (transferred to the front) → reason ``transfer``, streak unchanged;
2. priority and normal heads both waiting:
   the guard first — a normal head that waited longer than ``normal_max_wait_s`` beats a
   priority head issued after it → ``guard:max_wait``, streak 0; else ``strict`` → priority;
   ``interleave`` N → priority while the streak is below N, then one normal (streak 0);
3. only a priority head → priority, streak 0 (no normal ticket waits, so the run is harmless);
4. only a normal head → ``fifo``, streak 0.

A requeued candidate picked by rule 2–4 is reported as ``requeue``. Across a window's queues,
``ordered`` takes the first queue with a pick, ``fifo`` the best pick by
(tier, lane_rank, issued_at, position).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from server.domain.model import Candidate, Choice, QueueHeads, WindowMode

# How urgent a per-queue pick is when a ``fifo`` window compares its queues.
TIER_TRANSFER = 0
TIER_GUARD = 1
TIER_PRIORITY = 2
TIER_FIFO = 3


@dataclass(frozen=True, slots=True)
class _Pick:
    choice: Choice
    tier: int


def choose(heads: Sequence[QueueHeads], mode: WindowMode, now: datetime) -> Choice | None:
    """The next ticket for a window over the queues it serves.

    Args:
        heads: per queue served, its waiting heads, policy and priority streak; for
            ``ordered`` windows in the window's order.
        mode: ``ordered`` (first queue with a waiting ticket wins) or ``fifo`` (the most
            urgent pick across queues, then the longest waiting).
        now: the instant of the call, for the max-wait guard.

    Returns:
        The pick, its reason and the chosen queue's new streak (other queues' streaks do not
        change), or None when nothing waits.

    Raises:
        ValueError: on an unknown ``mode``.
    """
    if mode not in ("ordered", "fifo"):
        raise ValueError(f"unknown window mode {mode!r}; expected 'ordered' or 'fifo'")
    picks = [p for h in heads if (p := _pick_in_queue(h, now)) is not None]
    if not picks:
        return None
    if mode == "ordered":
        return picks[0].choice
    return min(picks, key=_fifo_key).choice


def _fifo_key(p: _Pick) -> tuple[int, int, datetime, float]:
    c = p.choice.candidate
    return (p.tier, c.lane_rank, c.issued_at, c.position)


def _pick_in_queue(h: QueueHeads, now: datetime) -> _Pick | None:
    if h.pinned is not None:
        return _Pick(Choice(h.pinned, "transfer", h.streak), TIER_TRANSFER)
    if h.priority is not None and h.normal is not None:
        return _contest(h, h.priority, h.normal, now)
    if h.priority is not None:
        return _priority(h.priority, streak=0)
    if h.normal is not None:
        return _normal(h.normal)
    return None


def _contest(h: QueueHeads, priority: Candidate, normal: Candidate, now: datetime) -> _Pick:
    policy = h.policy
    waited = (now - normal.issued_at).total_seconds()
    if waited > policy.normal_max_wait_s and priority.issued_at > normal.issued_at:
        return _Pick(Choice(normal, "guard:max_wait", 0), TIER_GUARD)
    # strict counts its streak too, so switching a queue to interleave at runtime
    # takes effect on the very next call.
    if policy.mode == "strict" or h.streak < policy.interleave:
        return _priority(priority, streak=h.streak + 1)
    return _normal(normal)


def _priority(c: Candidate, *, streak: int) -> _Pick:
    return _Pick(Choice(c, _reason(c, f"priority:{c.lane}"), streak), TIER_PRIORITY)


def _normal(c: Candidate) -> _Pick:
    return _Pick(Choice(c, _reason(c, "fifo"), 0), TIER_FIFO)


def _reason(c: Candidate, usual: str) -> str:
    return "requeue" if c.requeued else usual
