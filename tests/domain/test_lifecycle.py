"""The ticket state machine: every transition allowed and refused, and what each one sets."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from server.domain import lifecycle
from server.domain.errors import Conflict
from server.domain.lifecycle import ALLOWED, klass_for
from server.domain.model import (
    KLASS_NORMAL,
    KLASS_PINNED,
    KLASS_PRIORITY,
    HallRules,
    Outcome,
    Ticket,
    TicketStatus,
)

from .factories import DAY, T0, at, ticket

S = TicketStatus
RULES = HallRules(recall_limit=2, recall_cooldown_s=20, requeue_per_day=1)
NOW = at(60)

# Each action applied with valid arguments, and the status it leads to.
ACTIONS: dict[str, tuple[Callable[[Ticket], Ticket], TicketStatus]] = {
    "call": (lambda t: lifecycle.call(t, "w1", NOW, "fifo"), S.CALLED),
    "call_specific": (lambda t: lifecycle.call(t, "w1", NOW, "specific"), S.CALLED),
    "recall": (lambda t: lifecycle.recall(t, NOW, RULES), S.CALLED),
    "start": (lambda t: lifecycle.start(t, NOW), S.SERVING),
    "finish": (lambda t: lifecycle.finish(t, NOW, None), S.DONE),
    "no_show": (lambda t: lifecycle.no_show(t, NOW), S.NO_SHOW),
    "transfer": (lambda t: lifecycle.transfer(t, "project", -1.0, NOW), S.WAITING),
    "requeue": (lambda t: lifecycle.requeue(t, 4.5, NOW, RULES, DAY), S.WAITING),
    "cancel": (lambda t: lifecycle.cancel(t, NOW), S.CANCELLED),
    "expire": (lambda t: lifecycle.expire(t, NOW), S.EXPIRED),
}
CASES = [(action, status) for action in ALLOWED for status in TicketStatus]


def _in(status: TicketStatus) -> Ticket:
    # Called long enough ago that the recall cooldown is over.
    called = status in (S.CALLED, S.SERVING, S.NO_SHOW)
    return ticket(status, window="w1" if called else None, called_at=T0 if called else None)


def test_actions_cover_the_table() -> None:
    """Every action of the transition table has a function exercised here."""
    assert set(ACTIONS) == set(ALLOWED)


@pytest.mark.parametrize(("action", "status"), CASES, ids=[f"{a}-{s}" for a, s in CASES])
def test_transition_table(action: str, status: TicketStatus) -> None:
    """An action succeeds exactly from the statuses ALLOWED lists and refuses the others."""
    apply, target = ACTIONS[action]
    t = _in(status)
    if status in ALLOWED[action]:
        after = apply(t)
        assert after.status is target
        assert (after.id, after.number, after.counter, after.lane) == (
            t.id,
            t.number,
            t.counter,
            t.lane,
        )
    else:
        with pytest.raises(Conflict) as err:
            apply(t)
        assert err.value.code == "invalid_transition"
        assert err.value.details["status"] == status.value
        assert t.status is status  # the input is never mutated


def test_call_sets_window_time_and_reason() -> None:
    """A call records window, time and reason, resets recalls and keeps the call class."""
    t = ticket(lane="elderly", recalls=1, last_recall_at=T0)
    called = lifecycle.call(t, "w3", NOW, "priority:elderly")
    assert (called.window, called.called_at, called.call_reason) == ("w3", NOW, "priority:elderly")
    assert (called.recalls, called.last_recall_at) == (0, None)
    assert called.klass == t.klass == KLASS_PRIORITY


def test_missed_ticket_called_by_number() -> None:
    """A no-show ticket may be called again by its number, and only that way."""
    missed = ticket(S.NO_SHOW, window="w1", called_at=T0, finished_at=at(30))
    called = lifecycle.call(missed, "w2", NOW, "specific")
    assert (called.status, called.window, called.finished_at) == (S.CALLED, "w2", None)
    with pytest.raises(Conflict, match="call"):
        lifecycle.call(missed, "w2", NOW, "fifo")


def test_recall_counts_and_stamps() -> None:
    """A recall after the cooldown adds one recall and records its time."""
    t = lifecycle.recall(_in(S.CALLED), NOW, RULES)
    assert (t.status, t.recalls, t.last_recall_at) == (S.CALLED, 1, NOW)


def test_recall_limit() -> None:
    """Past the hall's recall limit a recall is refused with advice to mark it missed."""
    t = _in(S.CALLED)
    for i in range(RULES.recall_limit):
        t = lifecycle.recall(t, at(60 + 30 * i), RULES)
    with pytest.raises(Conflict) as err:
        lifecycle.recall(t, at(600), RULES)
    assert err.value.code == "recall_limit"
    assert "请标记过号" in err.value.message
    assert err.value.details["limit"] == RULES.recall_limit


@pytest.mark.parametrize(
    ("last_recall", "now_s", "retry_after"),
    [(None, 5, 15), (None, 19.5, 1), (40, 50, 10)],
    ids=["after-call", "half-second-left", "after-recall"],
)
def test_recall_cooldown(last_recall: float | None, now_s: float, retry_after: int) -> None:
    """A recall within the cooldown of the last call or recall says how long to wait."""
    t = _in(S.CALLED)
    if last_recall is not None:
        t = ticket(S.CALLED, window="w1", called_at=T0, recalls=1, last_recall_at=at(last_recall))
    with pytest.raises(Conflict) as err:
        lifecycle.recall(t, at(now_s), RULES)
    assert err.value.code == "recall_cooldown"
    assert err.value.details["retry_after"] == retry_after
    assert f"{retry_after} 秒" in err.value.message


def test_recall_exactly_at_cooldown() -> None:
    """A recall exactly when the cooldown ends is allowed."""
    assert lifecycle.recall(_in(S.CALLED), at(20), RULES).recalls == 1


def test_start_and_finish() -> None:
    """Start stamps served_at; finish stamps finished_at and defaults to completed."""
    serving = lifecycle.start(_in(S.CALLED), at(10))
    assert serving.served_at == at(10)
    done = lifecycle.finish(serving, at(300), None)
    assert (done.finished_at, done.outcome) == (at(300), Outcome.COMPLETED)
    assert lifecycle.finish(serving, at(300), Outcome.SUPPLEMENT).outcome is Outcome.SUPPLEMENT


def test_no_show_keeps_window() -> None:
    """A no-show keeps the window that marked it and stamps the end."""
    missed = lifecycle.no_show(_in(S.CALLED), NOW)
    assert (missed.window, missed.finished_at) == ("w1", NOW)


@pytest.mark.parametrize(
    ("pinned", "lane", "klass"),
    [(True, "normal", KLASS_PINNED), (False, "normal", KLASS_NORMAL), (False, "elderly", 1)],
)
def test_transfer(pinned: bool, lane: str, klass: int) -> None:
    """A transfer keeps id and number and waits again in the target queue, pinned by default."""
    t = lifecycle.start(ticket(S.CALLED, lane=lane, window="w1", called_at=T0, recalls=2), at(5))
    moved = lifecycle.transfer(t, "project", -3.0, NOW, pinned=pinned)
    assert (moved.status, moved.queue, moved.position, moved.klass) == (
        S.WAITING,
        "project",
        -3.0,
        klass,
    )
    assert (moved.window, moved.called_at, moved.served_at, moved.recalls) == (None, None, None, 0)
    assert (moved.id, moved.number, moved.counter, moved.lane) == (t.id, t.number, 1, lane)


def test_requeue() -> None:
    """A missed ticket goes back to waiting in its lane's class, counted once more."""
    missed = ticket(
        S.NO_SHOW, lane="military", klass=KLASS_PINNED, window="w1", called_at=T0, recalls=2
    )
    back = lifecycle.requeue(missed, 7.5, NOW, RULES, DAY)
    assert (back.status, back.position, back.klass, back.requeues) == (
        S.WAITING,
        7.5,
        KLASS_PRIORITY,
        1,
    )
    assert (back.window, back.called_at, back.finished_at, back.recalls) == (None, None, None, 0)


def test_requeue_limit() -> None:
    """A ticket re-queued as often as the hall allows is refused with requeue_limit."""
    with pytest.raises(Conflict) as err:
        lifecycle.requeue(ticket(S.NO_SHOW, requeues=1), 1.0, NOW, RULES, DAY)
    assert err.value.code == "requeue_limit"


def test_requeue_expired() -> None:
    """A missed ticket of another business day is refused with requeue_expired (当日有效)."""
    with pytest.raises(Conflict) as err:
        lifecycle.requeue(ticket(S.NO_SHOW), 1.0, NOW, RULES, DAY + timedelta(days=1))
    assert err.value.code == "requeue_expired"
    assert "当日有效" in err.value.message


@pytest.mark.parametrize(
    ("lane", "klass"),
    [("normal", KLASS_NORMAL), ("military", KLASS_PRIORITY), ("appointment", KLASS_PRIORITY)],
)
def test_klass_for(lane: str, klass: int) -> None:
    """Only the normal lane waits in the normal class."""
    assert klass_for(lane) == klass


@pytest.mark.parametrize("action", ["cancel", "expire"])
def test_cancel_and_expire_stamp_end(action: str) -> None:
    """Cancelling or expiring a waiting ticket stamps when it ended."""
    apply, _ = ACTIONS[action]
    assert apply(ticket()).finished_at == NOW
