"""The reducer: every event the server emits keeps the state equal to a fresh snapshot."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.client import StateMismatch, apply_event, comparable
from server.client.messages import EventMessage, Snapshot
from tests.client.hall_model import QUEUES, HallModel

Op = Callable[[HallModel], list[dict[str, Any]]]


def replay(hall: HallModel, state: dict[str, Any], frames: list[dict[str, Any]]) -> Snapshot:
    """Apply ``frames`` to ``state`` with the reducer, one by one."""
    result: Snapshot = state
    for frame in frames:
        result = apply_event(result, frame)
    return result


def check(hall: HallModel, op: Op) -> tuple[Snapshot, list[dict[str, Any]]]:
    """Run ``op`` on the model and assert the reducer lands on the model's new snapshot."""
    before = hall.snapshot()
    frames = op(hall)
    assert frames, "the operation was not legal in this state"
    after = replay(hall, before, frames)
    assert comparable(after) == comparable(hall.snapshot())
    return after, frames


def busy_hall() -> HallModel:
    """w1 open with A001 called, A002 and B001 waiting."""
    hall = HallModel()
    hall.issue("social")
    hall.issue("social")
    hall.issue("tax")
    hall.call_next("w1")
    return hall


TABLE: list[tuple[str, Op]] = [
    ("issued adds one waiting", lambda h: h.issue("tax")),
    ("call-next opens a closed window and takes from the queue", lambda h: h.call_next("w2")),
    ("recalled counts up and is a recent call", lambda h: h.recall("w1")),
    ("serving keeps the window's ticket", lambda h: h.start("w1")),
    ("finished frees the window", lambda h: h.finish("w1")),
    ("no_show frees the window and adds to missed", lambda h: h.no_show("w1")),
    ("transferred frees the window, waits in the target", lambda h: h.transfer("w1", "tax")),
    ("cancelled leaves the queue", lambda h: h.cancel("A002")),
    ("expired leaves the queue", lambda h: h.expire("B001")),
    ("paused shows the reason", lambda h: h.pause("w1", "系统维护")),
    ("opened", lambda h: h.open("w3")),
]


@pytest.mark.parametrize(("label", "op"), TABLE, ids=[label for label, _ in TABLE])
def test_each_event_matches_the_snapshot(label: str, op: Op) -> None:
    """Each event the server emits moves the reducer's state to the model's next snapshot."""
    check(busy_hall(), op)


def test_missed_ticket_called_by_number_leaves_missed_not_the_queue() -> None:
    """A missed ticket called by number leaves ``missed``; the queue's waiting count stays."""
    hall = busy_hall()
    hall.no_show("w1")
    after, _ = check(hall, lambda h: h.call_number("w2", "A001"))
    assert after["missed"] == []
    assert [q["waiting"] for q in after["queues"]] == [1, 1]
    assert after["windows"][1]["ticket"] == {
        "number": "A001",
        "status": "called",
        "called_at": hall.active("w2").called_at.isoformat(),
        "recalls": 0,
    }


def test_requeued_ticket_waits_again() -> None:
    """Requeue takes the number out of ``missed`` and adds one waiting to its queue."""
    hall = busy_hall()
    hall.no_show("w1")
    after, _ = check(hall, lambda h: h.requeue("A001"))
    assert after["missed"] == []
    assert after["queues"][0]["waiting"] == 2


def test_resume_and_close_restore_window_fields() -> None:
    """Resume clears the pause reason; close also signs the staff member out."""
    hall = busy_hall()
    hall.finish("w1")
    hall.pause("w1")
    check(hall, lambda h: h.resume("w1"))
    before = hall.snapshot()
    before["windows"][0]["staff"] = {"code": "S01", "name_masked": "王**"}
    after = replay(hall, before, hall.close("w1"))
    assert after["windows"][0] | {"ticket": None} == {
        "id": "w1",
        "number": 1,
        "name": "一号窗口",
        "zone": "z1",
        "status": "closed",
        "reason": None,
        "ticket": None,
        "staff": None,
    }


def test_recent_calls_keep_ten_newest_first() -> None:
    """Calls and recalls go to the front of ``recent_calls``, which keeps 10."""
    hall = HallModel()
    for _ in range(12):
        hall.issue("social")
    state = replay(hall, hall.snapshot(), [])
    for _ in range(12):
        frames = hall.call_next("w1") + hall.finish("w1")
        state = replay(hall, dict(state), frames)
    assert [c["number"] for c in state["recent_calls"]] == [f"A{n:03d}" for n in range(12, 2, -1)]
    assert state["recent_calls"][0]["seq"] == state["seq"] - 1
    assert state == {**hall.snapshot(), "queues": state["queues"]}


def test_missed_keeps_no_show_order() -> None:
    """``missed`` lists no-shows oldest first, as the snapshot orders them by finished_at."""
    hall = HallModel()
    for _ in range(3):
        hall.issue("social")
    state = replay(hall, hall.snapshot(), [])
    for _ in range(3):
        state = replay(hall, dict(state), hall.call_next("w1") + hall.no_show("w1"))
    state = replay(hall, dict(state), hall.call_number("w1", "A002") + hall.no_show("w1"))
    assert state["missed"] == ["A001", "A003", "A002"] == hall.snapshot()["missed"]


def test_reducer_leaves_its_input_untouched() -> None:
    """``apply_event`` is pure: the state passed in is not modified."""
    hall = busy_hall()
    before = hall.snapshot()
    kept = copy.deepcopy(before)
    replay(hall, before, hall.recall("w1") + hall.no_show("w1") + hall.requeue("A001"))
    assert before == kept


@pytest.mark.parametrize("name", ["queue.changed", "device.status", "ticket.future_thing"])
def test_events_without_snapshot_fields_only_move_seq(name: str) -> None:
    """Events that touch no snapshot field (and unknown names) only advance ``seq``."""
    hall = busy_hall()
    before = hall.snapshot()
    event = {
        "type": "event",
        "hall": "jinjiang",
        "epoch": hall.epoch,
        "seq": hall.seq + 1,
        "name": name,
        "at": "2026-11-27T02:10:00+00:00",
        "data": {"printer": {}},
    }
    after = replay(hall, before, [event])
    assert after == {**before, "seq": hall.seq + 1}


def _event(hall: HallModel, name: str, **data: Any) -> EventMessage:
    return {
        "type": "event",
        "hall": hall.hall,
        "epoch": hall.epoch,
        "seq": hall.seq + 1,
        "name": name,
        "at": "2026-11-27T02:10:00+00:00",
        "data": data,
    }


TICKET = {"ticket": "t-x", "queue": "social", "recalls": 0, "called_at": None}
MISMATCHES: list[tuple[str, str, dict[str, Any]]] = [
    ("unknown window", "window.paused", {"window": "w9", "status": "paused", "reason": "x"}),
    (
        "unknown queue",
        "ticket.issued",
        {**TICKET, "number": "C001", "queue": "x", "status": "waiting", "window": None},
    ),
    (
        "finish of a ticket not shown",
        "ticket.finished",
        {**TICKET, "number": "A002", "status": "done", "window": "w1"},
    ),
    (
        "finish at the wrong window",
        "ticket.finished",
        {**TICKET, "number": "A001", "status": "done", "window": "w2"},
    ),
    (
        "requeue of a ticket not missed",
        "ticket.requeued",
        {**TICKET, "number": "A002", "status": "waiting", "window": None},
    ),
    (
        "waiting below zero",
        "ticket.cancelled",
        {**TICKET, "number": "B009", "queue": "tax", "status": "cancelled", "window": None},
    ),
    (
        "call to a window showing another ticket",
        "ticket.called",
        {**TICKET, "number": "A002", "status": "called", "window": "w1"},
    ),
    (
        "issued number already shown: a new day",
        "ticket.issued",
        {**TICKET, "number": "A001", "status": "waiting", "window": None},
    ),
    ("malformed data", "ticket.called", {"number": "A002"}),
]


@pytest.mark.parametrize(("label", "name", "data"), MISMATCHES, ids=[m[0] for m in MISMATCHES])
def test_event_that_does_not_fit_raises_state_mismatch(
    label: str, name: str, data: dict[str, Any]
) -> None:
    """An event the state cannot take raises StateMismatch (the client then resyncs)."""
    hall = busy_hall()
    hall.expire("B001")
    with pytest.raises(StateMismatch):
        apply_event(hall.snapshot(), _event(hall, name, **data))


def test_comparable_drops_only_underived_fields() -> None:
    """``comparable`` drops longest_wait_s, staff and business_date and nothing else."""
    state = busy_hall().snapshot()
    plain = comparable(state)
    assert "business_date" not in plain
    assert all("longest_wait_s" not in q and "waiting" in q for q in plain["queues"])
    assert all("staff" not in w and "ticket" in w for w in plain["windows"])
    assert state["queues"][0]["longest_wait_s"] >= 0  # the input keeps them


# -- property: any legal sequence of hall operations ------------------------------------------

WINDOWS = ("w1", "w2", "w3")
OPS = (
    "issue",
    "call_next",
    "call_number",
    "recall",
    "start",
    "finish",
    "no_show",
    "transfer",
    "requeue",
    "cancel",
    "expire",
    "pause",
    "resume",
    "open",
    "close",
)


def run_op(hall: HallModel, op: str, pick: int) -> list[dict[str, Any]]:
    """Interpret (op, pick) as a hall operation on targets chosen by ``pick``."""
    window = WINDOWS[pick % len(WINDOWS)]
    queue = sorted(QUEUES)[pick % len(QUEUES)]
    if op == "issue":
        return hall.issue(queue)
    if op in ("requeue", "call_number"):
        numbers = hall.numbers("no_show") + hall.numbers("waiting")
    else:
        numbers = hall.numbers("waiting")
    number = numbers[pick % len(numbers)] if numbers else "Z999"
    if op in ("requeue", "cancel", "expire"):
        return getattr(hall, op)(number)
    if op == "call_number":
        return hall.call_number(window, number)
    if op == "transfer":
        return hall.transfer(window, queue)
    return getattr(hall, op)(window)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(OPS), st.integers(0, 30)), max_size=80))
def test_reducer_equals_model_over_any_operation_sequence(ops: list[tuple[str, int]]) -> None:
    """Applying the events of any legal operation sequence equals the model's own snapshot."""
    hall = HallModel()
    state = replay(hall, hall.snapshot(), [])
    for op, pick in ops:
        for frame in run_op(hall, op, pick):
            state = apply_event(state, frame)
        assert comparable(state) == comparable(hall.snapshot())
    assert state["seq"] == hall.seq
