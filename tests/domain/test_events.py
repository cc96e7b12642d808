"""Event payloads: the contract's names, and nothing on a hall channel reveals a lane."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.domain import events
from server.domain.events import Event, ticket_event, window_event
from server.domain.model import TicketStatus

from .factories import T0, at, ticket

CONTRACT_NAMES = {
    "ticket.issued", "ticket.called", "ticket.recalled", "ticket.serving", "ticket.finished",
    "ticket.no_show", "ticket.transferred", "ticket.requeued", "ticket.cancelled",
    "ticket.expired", "window.paused", "window.resumed", "window.opened", "window.closed",
    "queue.changed", "device.status",
}  # fmt: skip
LANES = ["military", "elderly", "disabled", "pregnant", "appointment"]
ANNOUNCE = {"zh": "请A零零一号，到三号窗口办理。", "en": "…", "audio": None, "repeat": 2}


def test_event_names_are_the_contract() -> None:
    """The event names are exactly those of contract.md (plus ticket.expired)."""
    assert events.EVENT_NAMES == CONTRACT_NAMES


def test_called_event_payload() -> None:
    """A call event carries number, window, window name, zone and the announcement."""
    t = ticket(TicketStatus.CALLED, lane="elderly", window="w3", called_at=at(5),
               call_reason="priority:elderly")  # fmt: skip
    e = ticket_event(events.TICKET_CALLED, t, window_number=3, window_name="社会事务3号",
                     zone="social", announce=ANNOUNCE)  # fmt: skip
    assert e == Event(
        "ticket.called",
        {
            "ticket": t.id,
            "number": "A001",
            "queue": "social",
            "status": "called",
            "window": "w3",
            "recalls": 0,
            "called_at": at(5).isoformat(),
            "window_number": 3,
            "window_name": "社会事务3号",
            "zone": "social",
            "announce": ANNOUNCE,
        },
    )


def test_plain_event_payload() -> None:
    """Events other than calls carry the ticket's state only."""
    e = ticket_event(events.TICKET_ISSUED, ticket())
    assert set(e.data) == {"ticket", "number", "queue", "status", "window", "recalls", "called_at"}
    assert e.data["called_at"] is None
    json.dumps(dict(e.data))  # JSON-ready as it is


def test_window_event() -> None:
    """A window event names the window, its status and the pause reason."""
    e = window_event(events.WINDOW_PAUSED, "w3", "paused", "午间休息")
    assert e == Event("window.paused", {"window": "w3", "status": "paused", "reason": "午间休息"})


@pytest.mark.parametrize(
    ("builder", "name"),
    [("ticket", events.WINDOW_PAUSED), ("ticket", "ticket.exploded"), ("window", "ticket.called")],
)
def test_wrong_names_rejected(builder: str, name: str) -> None:
    """Each builder takes only names of its own kind."""
    with pytest.raises(ValueError, match="not a"):
        if builder == "ticket":
            ticket_event(name, ticket())
        else:
            window_event(name, "w1", "open", None)


@settings(max_examples=200, deadline=None)
@given(
    lane=st.sampled_from(LANES),
    name=st.sampled_from(sorted(events.TICKET_EVENTS)),
    status=st.sampled_from(list(TicketStatus)),
    recalls=st.integers(0, 3),
    window=st.sampled_from([None, "w1", "w12"]),
    prefix=st.sampled_from(["A", "B", "Y"]),
    counter=st.integers(1, 1500),
)
def test_no_lane_in_event_data(
    lane: str, name: str, status: TicketStatus, recalls: int, window: str | None,
    prefix: str, counter: int,
) -> None:  # fmt: skip
    """No ticket event data names the lane, its rank, class or the call reason."""
    t = ticket(status, lane=lane, number=f"{prefix}{counter:03d}", window=window, recalls=recalls,
               called_at=T0, call_reason=f"priority:{lane}")  # fmt: skip
    e = ticket_event(name, t, window_number=3, window_name="综合窗口", zone="jinjiang-1",
                     announce=ANNOUNCE)  # fmt: skip
    text = json.dumps(dict(e.data), ensure_ascii=False)
    assert lane not in text
    assert "priority" not in text
    assert not {"lane", "lane_rank", "klass", "call_reason"} & set(e.data)
