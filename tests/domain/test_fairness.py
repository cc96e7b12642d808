"""Hypothesis properties of selection over a simulated queue: fairness bound, guard, no skips.

The simulation keeps a queue's waiting tickets the way storage does (call order = class, lane
rank, position), hands ``choose`` the pinned/priority/normal heads and stores the new streak.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from server.domain.lifecycle import klass_for
from server.domain.model import (
    KLASS_NORMAL,
    KLASS_PRIORITY,
    NORMAL_LANE,
    Candidate,
    QueueHeads,
    QueuePolicy,
)
from server.domain.selection import choose

from .factories import LANE_RANKS, at

Steps = list[tuple[str | None, int]]
PRIORITY_LANES = ["military", "elderly", "disabled", "pregnant"]
SIM = settings(max_examples=300, deadline=None)


@dataclass(frozen=True, slots=True)
class Call:
    """One call of the simulation and what was waiting when it happened."""

    chosen: Candidate
    now: datetime
    reason: str
    waiting: tuple[Candidate, ...]

    @property
    def priority(self) -> bool:
        return self.chosen.klass == KLASS_PRIORITY

    @property
    def normal_waited(self) -> bool:
        return any(c.klass == KLASS_NORMAL for c in self.waiting)


@dataclass
class Queue:
    """A single queue as storage would hold it."""

    policy: QueuePolicy
    streak: int = 0
    waiting: list[Candidate] = field(default_factory=list)
    issued: list[str] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)

    def arrive(self, lane: str, now: datetime) -> None:
        n = len(self.issued) + 1
        c = Candidate(f"t{n}", "q", lane, LANE_RANKS[lane], klass_for(lane), float(n), now)
        self.waiting.append(c)
        self.issued.append(c.ticket_id)

    def heads(self) -> QueueHeads:
        def first(klass: int) -> Candidate | None:
            same = [c for c in self.waiting if c.klass == klass]
            return min(same, key=lambda c: (c.lane_rank, c.position), default=None)

        return QueueHeads(
            "q",
            self.policy,
            self.streak,
            priority=first(KLASS_PRIORITY),
            normal=first(KLASS_NORMAL),
        )

    def call(self, now: datetime) -> Call | None:
        heads = self.heads()
        choice = choose([heads], "fifo", now)
        assert (choice is None) == (not self.waiting)
        if choice is None:
            return None
        assert choice.candidate in (heads.priority, heads.normal)
        done = Call(choice.candidate, now, choice.reason, tuple(self.waiting))
        self.waiting.remove(choice.candidate)
        self.streak = choice.streak
        self.calls.append(done)
        return done


policies = st.builds(
    QueuePolicy,
    mode=st.sampled_from(["strict", "interleave"]),
    interleave=st.integers(0, 4),
    normal_max_wait_s=st.sampled_from([60, 300, 900, 10**9]),
)
# An op: a lane arriving, or None for a call; then the seconds that pass before it.
ops = st.lists(
    st.tuples(
        st.one_of(st.none(), st.sampled_from([NORMAL_LANE, NORMAL_LANE, *PRIORITY_LANES])),
        st.integers(1, 60),
    ),
    min_size=10,
    max_size=120,
)


def simulate(policy: QueuePolicy, steps: Steps) -> Queue:
    """Run the ops, then keep calling until the queue is empty."""
    q = Queue(policy)
    t = 0.0
    for lane, gap in steps:
        t += gap
        if lane is None:
            q.call(at(t))
        else:
            q.arrive(lane, at(t))
    while q.call(at(t := t + 60)) is not None:
        pass
    return q


@SIM
@given(policies.filter(lambda p: p.mode == "interleave"), ops)
def test_interleave_bounds_priority_runs(policy: QueuePolicy, steps: Steps) -> None:
    """With interleave N, no N+1 calls in a row are all priority while a normal ticket waits."""
    calls = simulate(policy, steps).calls
    unfair = [c.priority and c.normal_waited for c in calls]
    run = policy.interleave + 1
    for i in range(len(unfair) - run + 1):
        assert not all(unfair[i : i + run]), [c.reason for c in calls[i : i + run]]


@SIM
@given(policies, ops)
def test_guard_calls_overdue_normal_first(policy: QueuePolicy, steps: Steps) -> None:
    """A normal ticket waiting past normal_max_wait is called before anything issued after it."""
    for call in simulate(policy, steps).calls:
        limit = policy.normal_max_wait_s
        overdue = [
            c
            for c in call.waiting
            if c.klass == KLASS_NORMAL and (call.now - c.issued_at).total_seconds() > limit
        ]
        for c in overdue:
            assert call.chosen.issued_at <= c.issued_at, (call.reason, c.ticket_id)


@SIM
@given(policies, ops)
def test_every_ticket_called_exactly_once(policy: QueuePolicy, steps: Steps) -> None:
    """When calls continue, every issued ticket is called once: no starvation, no skip."""
    q = simulate(policy, steps)
    called = [c.chosen.ticket_id for c in q.calls]
    assert sorted(called) == sorted(q.issued)
    assert len(set(called)) == len(called)


@SIM
@given(policies, ops)
def test_same_lane_called_in_issue_order(policy: QueuePolicy, steps: Steps) -> None:
    """Tickets of one lane are called in the order they were issued."""
    order: dict[str, list[float]] = {}
    for call in simulate(policy, steps).calls:
        order.setdefault(call.chosen.lane, []).append(call.chosen.position)
    for positions in order.values():
        assert positions == sorted(positions)
