"""Next-ticket selection tables: policies, the guard, transfers, requeues and window modes."""

from __future__ import annotations

import pytest

from server.domain.model import Candidate, QueueHeads, QueuePolicy, WindowMode
from server.domain.selection import choose

from .factories import at, cand, policy

STRICT = policy("strict")
INTERLEAVE_2 = policy("interleave", 2)

P = cand("p", lane="elderly", issued=100)  # priority head, issued after N
N = cand("n", issued=50)  # normal head
PIN = cand("pin", issued=500, pinned=True)


def heads(
    pol: QueuePolicy = INTERLEAVE_2,
    streak: int = 0,
    *,
    pinned: Candidate | None = None,
    priority: Candidate | None = None,
    normal: Candidate | None = None,
    queue: str = "q",
) -> QueueHeads:
    """QueueHeads with keyword heads."""
    return QueueHeads(queue, pol, streak, pinned=pinned, priority=priority, normal=normal)


P0 = cand("p0", lane="military", issued=10)  # priority head issued before N
RN = cand("r", requeued=True)
RP = cand("r", lane="pregnant", issued=60, requeued=True)
RG = cand("r", issued=50, requeued=True)
RPIN = cand("r", pinned=True, requeued=True)
ELD, MIL = "priority:elderly", "priority:military"
GUARD = "guard:max_wait"
I0 = policy("interleave", 0)
S, I2 = STRICT, INTERLEAVE_2

# (case id, heads, seconds after T0, expected ticket, reason, new streak)
SINGLE_QUEUE = [
    ("strict-priority-first", heads(S, 0, priority=P, normal=N), 200, "p", ELD, 1),
    ("strict-counts-streak", heads(S, 7, priority=P, normal=N), 200, "p", ELD, 8),
    ("interleave-below-n", heads(I2, 1, priority=P, normal=N), 200, "p", ELD, 2),
    ("interleave-at-n", heads(I2, 2, priority=P, normal=N), 200, "n", "fifo", 0),
    ("interleave-zero", heads(I0, 0, priority=P, normal=N), 200, "n", "fifo", 0),
    ("guard-strict", heads(S, 0, priority=P, normal=N), 1851, "n", GUARD, 0),
    ("guard-interleave", heads(I2, 1, priority=P, normal=N), 1851, "n", GUARD, 0),
    ("guard-not-yet", heads(S, 0, priority=P, normal=N), 1850, "p", ELD, 1),
    ("guard-older-priority", heads(S, 0, priority=P0, normal=N), 5000, "p0", MIL, 1),
    ("only-priority", heads(I2, 2, priority=P), 200, "p", ELD, 0),
    ("only-normal", heads(S, 5, normal=N), 200, "n", "fifo", 0),
    ("pinned-wins", heads(S, 1, pinned=PIN, priority=P, normal=N), 5000, "pin", "transfer", 1),
    ("pinned-keeps-streak", heads(I2, 2, pinned=PIN), 200, "pin", "transfer", 2),
    ("requeue-normal", heads(S, 0, normal=RN), 200, "r", "requeue", 0),
    ("requeue-priority", heads(S, 0, priority=RP, normal=N), 200, "r", "requeue", 1),
    ("requeue-guard", heads(S, 0, priority=P, normal=RG), 1851, "r", GUARD, 0),
    ("requeue-transfer", heads(S, 0, pinned=RPIN), 200, "r", "transfer", 0),
]


@pytest.mark.parametrize(
    ("h", "now_s", "expected", "reason", "streak"),
    [case[1:] for case in SINGLE_QUEUE],
    ids=[case[0] for case in SINGLE_QUEUE],
)
def test_single_queue(h: QueueHeads, now_s: float, expected: str, reason: str, streak: int) -> None:
    """One queue picks by pinned, guard, policy and streak, and says why."""
    for mode in ("fifo", "ordered"):
        choice = choose([h], mode, at(now_s))
        assert choice is not None
        assert (choice.candidate.ticket_id, choice.reason, choice.streak) == (
            expected,
            reason,
            streak,
        )


@pytest.mark.parametrize("mode", ["fifo", "ordered"])
def test_nothing_waiting(mode: WindowMode) -> None:
    """No queues, or only empty ones, give no choice."""
    assert choose([], mode, at(0)) is None
    assert choose([heads(), heads(queue="r")], mode, at(0)) is None


def test_unknown_mode() -> None:
    """An unknown window mode is a ValueError, not a silent default."""
    with pytest.raises(ValueError, match="window mode"):
        choose([heads(normal=N)], "lifo", at(0))  # type: ignore[arg-type]


def _cross(*hs: QueueHeads, mode: WindowMode, now_s: float = 200) -> tuple[str, str, int]:
    choice = choose(hs, mode, at(now_s))
    assert choice is not None
    return choice.candidate.ticket_id, choice.reason, choice.streak


def test_ordered_takes_first_queue_with_a_ticket() -> None:
    """An ordered window serves its first non-empty queue even if another waited longer."""
    first = heads(queue="a", normal=cand("a1", queue="a", issued=150))
    second = heads(queue="b", pinned=cand("b1", queue="b", issued=1, pinned=True))
    assert _cross(heads(queue="empty"), first, second, mode="ordered") == ("a1", "fifo", 0)


def test_fifo_prefers_higher_tier() -> None:
    """A fifo window ranks transfer, then guard, then priority, then plain fifo across queues."""
    fifo = heads(queue="a", normal=cand("a1", queue="a", issued=1))
    prio = heads(queue="b", priority=cand("b1", lane="elderly", queue="b", issued=150))
    guard = heads(
        STRICT,
        queue="c",
        priority=cand("c2", lane="military", queue="c", issued=9000),
        normal=cand("c1", queue="c", issued=100),
    )
    pin = heads(queue="d", pinned=cand("d1", queue="d", issued=9999, pinned=True))
    assert _cross(fifo, prio, mode="fifo") == ("b1", "priority:elderly", 0)
    assert _cross(fifo, prio, guard, mode="fifo", now_s=9999) == ("c1", "guard:max_wait", 0)
    assert _cross(fifo, prio, guard, pin, mode="fifo", now_s=9999) == ("d1", "transfer", 0)


def test_fifo_tie_breaks() -> None:
    """Within a tier a fifo window takes lower lane rank, then earlier issue, then position."""
    mil = heads(queue="a", priority=cand("mil", lane="military", queue="a", issued=150))
    eld = heads(queue="b", priority=cand("eld", lane="elderly", queue="b", issued=10))
    assert _cross(eld, mil, mode="fifo")[0] == "mil"
    late = heads(queue="a", normal=cand("late", queue="a", issued=20))
    early = heads(queue="b", normal=cand("early", queue="b", issued=10))
    assert _cross(late, early, mode="fifo")[0] == "early"
    x = heads(queue="a", normal=cand("x", queue="a", issued=10, position=9))
    y = heads(queue="b", normal=cand("y", queue="b", issued=10, position=3))
    assert _cross(x, y, mode="fifo")[0] == "y"


def test_requeued_priority_keeps_priority_tier() -> None:
    """A requeued priority ticket still outranks plain fifo tickets across queues."""
    fifo = heads(queue="a", normal=cand("a1", queue="a", issued=1))
    req = heads(
        queue="b", priority=cand("b1", lane="elderly", queue="b", issued=150, requeued=True)
    )
    assert _cross(fifo, req, mode="fifo") == ("b1", "requeue", 0)


def test_streak_is_the_chosen_queues() -> None:
    """Choice.streak is the new streak of the chosen queue, not of the other queues."""
    a = heads(
        INTERLEAVE_2,
        1,
        queue="a",
        priority=cand("a1", lane="elderly", queue="a"),
        normal=cand("a2", queue="a", issued=1),
    )
    b = heads(INTERLEAVE_2, 2, queue="b", normal=cand("b1", queue="b", issued=0))
    assert _cross(b, a, mode="ordered") == ("b1", "fifo", 0)
    assert _cross(b, a, mode="fifo") == ("a1", "priority:elderly", 2)
