"""Event names and payloads written to the outbox; hall channels show them on public screens.

Payloads carry the ticket number, queue, status and window only: never the lane, the call
reason (it names the lane), a person, or anything else revealing a priority category.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from server.domain.model import Ticket, TicketStatus

TICKET_ISSUED = "ticket.issued"
TICKET_CALLED = "ticket.called"
TICKET_RECALLED = "ticket.recalled"
TICKET_SERVING = "ticket.serving"
TICKET_FINISHED = "ticket.finished"
TICKET_NO_SHOW = "ticket.no_show"
TICKET_TRANSFERRED = "ticket.transferred"
TICKET_REQUEUED = "ticket.requeued"
TICKET_CANCELLED = "ticket.cancelled"
TICKET_EXPIRED = "ticket.expired"
WINDOW_PAUSED = "window.paused"
WINDOW_RESUMED = "window.resumed"
WINDOW_OPENED = "window.opened"
WINDOW_CLOSED = "window.closed"
QUEUE_CHANGED = "queue.changed"
DEVICE_STATUS = "device.status"

TICKET_EVENTS = frozenset(
    {
        TICKET_ISSUED,
        TICKET_CALLED,
        TICKET_RECALLED,
        TICKET_SERVING,
        TICKET_FINISHED,
        TICKET_NO_SHOW,
        TICKET_TRANSFERRED,
        TICKET_REQUEUED,
        TICKET_CANCELLED,
        TICKET_EXPIRED,
    }
)
WINDOW_EVENTS = frozenset({WINDOW_PAUSED, WINDOW_RESUMED, WINDOW_OPENED, WINDOW_CLOSED})
EVENT_NAMES = TICKET_EVENTS | WINDOW_EVENTS | {QUEUE_CHANGED, DEVICE_STATUS}

# Events that make screens show and speak a call: they carry window name, zone, announcement.
CALL_EVENTS = frozenset({TICKET_CALLED, TICKET_RECALLED})


@dataclass(frozen=True, slots=True)
class Event:
    """A change to publish: a name from this module and a JSON-ready payload."""

    name: str
    data: Mapping[str, object]


def ticket_event(
    name: str,
    t: Ticket,
    *,
    window_number: int | None = None,
    window_name: str | None = None,
    zone: str | None = None,
    announce: Mapping[str, object] | None = None,
) -> Event:
    """A ticket event safe for public hall channels.

    Args:
        name: one of the ``TICKET_*`` names.
        t: the ticket after the change.
        window_number: the window's displayed number, added when given.
        window_name: for called/recalled: the window's name.
        zone: for called/recalled: the window's zone id.
        announce: for called/recalled: the voice block (``zh``, ``en``, ``audio``, ``repeat``).

    Returns:
        An Event whose data has ``ticket`` (the random id, for clients that fetch details),
        ``number``, ``queue``, ``status``, ``window``, ``recalls`` and ``called_at`` (ISO or
        null), plus the call block for called/recalled; never the lane.

    Raises:
        ValueError: if ``name`` is not a ticket event.
    """
    if name not in TICKET_EVENTS:
        raise ValueError(f"{name!r} is not a ticket event; use one of {sorted(TICKET_EVENTS)}")
    data: dict[str, object] = {
        "ticket": t.id,
        "number": t.number,
        "queue": t.queue,
        "status": TicketStatus(t.status).value,
        "window": t.window,
        "recalls": t.recalls,
        "called_at": t.called_at.isoformat() if t.called_at else None,
    }
    if window_number is not None:
        data["window_number"] = window_number
    if name in CALL_EVENTS:
        data["window_name"] = window_name
        data["zone"] = zone
        data["announce"] = dict(announce) if announce is not None else None
    return Event(name, data)


def window_event(name: str, window_id: str, status: str, reason: str | None) -> Event:
    """A window's status change (opened, paused with a reason, resumed, closed).

    Raises:
        ValueError: if ``name`` is not a window event.
    """
    if name not in WINDOW_EVENTS:
        raise ValueError(f"{name!r} is not a window event; use one of {sorted(WINDOW_EVENTS)}")
    return Event(name, {"window": window_id, "status": status, "reason": reason})
