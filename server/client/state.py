"""A pure reducer: the hall ``Snapshot`` after one event, as a fresh snapshot would show it.

What the reducer keeps exact, for every event the server emits today:

- ``seq`` (the event's), ``windows[].status``/``reason`` (window.*; ``staff`` cleared on
  window.closed), ``windows[].ticket`` (a ticket's ``number``, ``status``, ``called_at`` and
  ``recalls`` while it is called or serving at that window);
- ``queues[].waiting`` (+1 when a ticket starts waiting: issued, transferred, requeued;
  −1 when it stops: called from the queue, cancelled, expired);
- ``recent_calls`` (called and recalled, newest first, at most 10, ``at``/``seq`` from the
  event envelope) and ``missed`` (today's no-show numbers, oldest first).

What it cannot derive, because no event carries it (``UNDERIVED`` lists them and
``comparable`` drops them): ``queues[].longest_wait_s`` (a function of the oldest waiting
ticket's issue time and of the clock), ``windows[].staff`` after window.opened (events name
no person), and ``business_date`` with the day rollover of ``missed`` (events do not say the
hall's time zone). Only a snapshot refreshes those.

When an event does not fit the state (an unknown window or queue, a ticket not where its
previous status puts it, a waiting count that would go negative), ``apply_event`` raises
``StateMismatch`` instead of guessing: the caller asks for a snapshot.
"""

from __future__ import annotations

import copy
from typing import Any

from .messages import EventMessage, QueueState, RecentCall, Snapshot, WindowState, WindowTicket

RECENT_CALLS = 10
CALL_EVENTS = frozenset({"ticket.called", "ticket.recalled"})
WINDOW_EVENTS = frozenset({"window.paused", "window.resumed", "window.opened", "window.closed"})

# Where a ticket may be before each event: "window" (called/serving there), "missed"
# (no-show today), "waiting" (counted in its queue). A ticket.called comes from the queue or,
# called by number, from the missed list.
_FROM: dict[str, tuple[str, ...]] = {
    "ticket.issued": (),
    "ticket.called": ("missed", "waiting"),
    "ticket.recalled": ("window",),
    "ticket.serving": ("window",),
    "ticket.finished": ("window",),
    "ticket.no_show": ("window",),
    "ticket.transferred": ("window",),
    "ticket.requeued": ("missed",),
    "ticket.cancelled": ("waiting",),
    "ticket.expired": ("waiting",),
}
# Where the event's ``data.status`` puts it afterwards (done/cancelled/expired: nowhere).
_TO = {"called": "window", "serving": "window", "no_show": "missed", "waiting": "waiting"}

# Snapshot fields (dotted paths into list items) no event carries; see the module docstring.
UNDERIVED = ("queues[].longest_wait_s", "windows[].staff", "business_date")


class StateMismatch(ValueError):
    """The event does not fit the state: only a fresh snapshot can tell the truth."""


def apply_event(state: Snapshot, event: EventMessage) -> Snapshot:
    """The snapshot after ``event``; ``state`` itself is left untouched.

    Args:
        state: the hall snapshot at ``event["seq"] - 1``.
        event: an ``event`` frame (``name``, ``seq``, ``at``, ``data``).

    Returns:
        A new snapshot with ``seq`` set to the event's. ``queue.changed``, ``device.status``
        and names this client does not know change nothing else.

    Raises:
        StateMismatch: the event names a window, queue or ticket the state does not have
            where it should be; resync.
    """
    new: Snapshot = copy.deepcopy(state)
    name, data = event["name"], event["data"]
    try:
        if name in _FROM:
            _move_ticket(new, name, data)
            if name in CALL_EVENTS:
                _record_call(new, data, event)
        elif name in WINDOW_EVENTS:
            _set_window_status(new, name, data)
    except (KeyError, TypeError) as exc:
        raise StateMismatch(f"{name} seq {event['seq']}: malformed data ({exc!r})") from None
    new["seq"] = event["seq"]
    return new


def comparable(state: Snapshot) -> dict[str, Any]:
    """``state`` without the fields the reducer cannot derive (``UNDERIVED``).

    Two snapshots of the same hall at the same seq compare equal through this whether they
    came from the server or from ``apply_event``.
    """
    plain: dict[str, Any] = copy.deepcopy(dict(state))
    plain.pop("business_date", None)
    for queue in plain.get("queues", []):
        queue.pop("longest_wait_s", None)
    for window in plain.get("windows", []):
        window.pop("staff", None)
    return plain


def _move_ticket(s: Snapshot, name: str, data: dict[str, Any]) -> None:
    number = data["number"]
    if name == "ticket.issued" and _knows_number(s, number):
        # Numbers restart every business day: a known number means the day rolled over.
        raise StateMismatch(f"issued {number} is already in the state: a new business day?")
    _leave(s, _FROM[name], number, data)
    to = _TO.get(data["status"])
    if to == "window":
        window = _window(s, data["window"])
        if window["ticket"] is not None:
            raise StateMismatch(f"{number} called to {window['id']}, which shows another ticket")
        window["ticket"] = _window_ticket(data)
    elif to == "missed":
        s["missed"].append(number)
    elif to == "waiting":
        _queue(s, data["queue"])["waiting"] += 1


def _leave(s: Snapshot, places: tuple[str, ...], number: str, data: dict[str, Any]) -> None:
    for place in places:
        if place == "window":
            _window_showing(s, number, data.get("window"))["ticket"] = None
            return
        if place == "missed" and number in s["missed"]:
            s["missed"].remove(number)
            return
        if place == "waiting":
            queue = _queue(s, data["queue"])
            if queue["waiting"] <= 0:
                raise StateMismatch(f"{number} left queue {queue['id']}, which has 0 waiting")
            queue["waiting"] -= 1
            return
    if places:
        raise StateMismatch(f"{number} is not where {' or '.join(places)} would put it")


def _set_window_status(s: Snapshot, name: str, data: dict[str, Any]) -> None:
    window = _window(s, data["window"])
    window["status"] = data["status"]
    window["reason"] = data["reason"]
    if name == "window.closed":
        window["staff"] = None  # closing signs the staff member out


def _record_call(s: Snapshot, data: dict[str, Any], event: EventMessage) -> None:
    call: RecentCall = {
        "number": data["number"],
        "window": data["window"],
        "at": event["at"],
        "seq": event["seq"],
    }
    s["recent_calls"] = [call, *s["recent_calls"]][:RECENT_CALLS]


def _window_ticket(data: dict[str, Any]) -> WindowTicket:
    return {
        "number": data["number"],
        "status": data["status"],
        "called_at": data["called_at"],
        "recalls": data["recalls"],
    }


def _knows_number(s: Snapshot, number: str) -> bool:
    at_window = any(w["ticket"] and w["ticket"]["number"] == number for w in s["windows"])
    return at_window or number in s["missed"]


def _window(s: Snapshot, window_id: object) -> WindowState:
    for window in s["windows"]:
        if window["id"] == window_id:
            return window
    raise StateMismatch(f"window {window_id!r} is not in the snapshot")


def _window_showing(s: Snapshot, number: str, hint: object) -> WindowState:
    # Finish/no-show keep the ticket's window in data; a transfer has already cleared it.
    for window in s["windows"]:
        shown = window["ticket"]
        if shown and shown["number"] == number and hint in (None, window["id"]):
            return window
    raise StateMismatch(f"{number} is not shown at window {hint!r}")


def _queue(s: Snapshot, queue_id: object) -> QueueState:
    for queue in s["queues"]:
        if queue["id"] == queue_id:
            return queue
    raise StateMismatch(f"queue {queue_id!r} is not in the snapshot")
