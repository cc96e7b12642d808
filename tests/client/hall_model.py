"""A hall kept directly in memory with the server's own domain: events out, snapshots out.

Tickets move through ``server.domain.lifecycle`` and events are built by
``server.domain.events`` exactly as the services build them; ``snapshot()`` computes the
contract's Snapshot from the tickets the way ``server/services/snapshot.py`` does from rows.
So the reducer can be checked against a snapshot it had no part in making.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from server.domain import events as ev
from server.domain import lifecycle
from server.domain.model import NORMAL_LANE, HallRules, Ticket, TicketStatus

T0 = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
DAY = date(2026, 11, 27)
RULES = HallRules(recall_limit=3, recall_cooldown_s=0, requeue_after=1, requeue_per_day=2)


@dataclass
class Window:
    """A window as the hall table holds it."""

    id: str
    number: int
    name: str
    zone: str
    queues: tuple[str, ...]
    status: str = "closed"
    reason: str | None = None


QUEUES = {"social": ("A", "社保"), "tax": ("B", "税务")}


def default_windows() -> list[Window]:
    """Three windows over two queues, all closed."""
    return [
        Window("w1", 1, "一号窗口", "z1", ("social",)),
        Window("w2", 2, "二号窗口", "z1", ("social", "tax")),
        Window("w3", 3, "三号窗口", "z2", ("tax",)),
    ]


class HallModel:
    """A hall's tickets and windows; every operation returns the event frames it produced."""

    def __init__(self, hall: str = "jinjiang", epoch: str = "epoch-1") -> None:
        self.hall, self.epoch, self.seq = hall, epoch, 0
        self.windows = {w.id: w for w in default_windows()}
        self.tickets: dict[str, Ticket] = {}
        self.log: list[dict[str, Any]] = []  # every event frame, seq order
        self.counters = dict.fromkeys(QUEUES, 0)
        self._tick = 0

    # -- operations (each returns the frames it emitted; [] when not legal now) ---------------

    def issue(self, queue: str) -> list[dict[str, Any]]:
        """A kiosk issues a ticket in ``queue``."""
        self.counters[queue] += 1
        n = self.counters[queue]
        t = Ticket(
            id=f"t-{queue}-{n}",
            hall=self.hall,
            queue=queue,
            number=f"{QUEUES[queue][0]}{n:03d}",
            counter=n,
            business_date=DAY,
            lane=NORMAL_LANE,
            lane_rank=0,
            service=None,
            channel="kiosk",
            status=TicketStatus.WAITING,
            issued_at=self._now(),
            position=float(n),
        )
        return self._ticket(ev.TICKET_ISSUED, t)

    def call_next(self, window_id: str) -> list[dict[str, Any]]:
        """The window calls its first waiting ticket (FIFO by position), opening if closed."""
        w = self.windows[window_id]
        if w.status == "paused" or self.active(window_id) is not None:
            return []
        waiting = [
            t for t in self.tickets.values() if t.status == "waiting" and t.queue in w.queues
        ]
        if not waiting:
            return []
        t = min(waiting, key=lambda t: (t.klass, t.position))
        frames = self._open_implicitly(w)
        return frames + self._call(ev.TICKET_CALLED, lifecycle.call(t, w.id, self._now(), "fifo"))

    def call_number(self, window_id: str, number: str) -> list[dict[str, Any]]:
        """The window calls a waiting or missed ticket by number."""
        w = self.windows[window_id]
        t = self.by_number(number)
        if w.status == "paused" or self.active(window_id) is not None or t is None:
            return []
        if t.status not in ("waiting", "no_show"):
            return []
        frames = self._open_implicitly(w)
        called = lifecycle.call(t, w.id, self._now(), lifecycle.SPECIFIC)
        return frames + self._call(ev.TICKET_CALLED, called)

    def recall(self, window_id: str) -> list[dict[str, Any]]:
        """Recall the window's called ticket, within the limit."""
        t = self.active(window_id)
        if t is None or t.status != "called" or t.recalls >= RULES.recall_limit:
            return []
        return self._call(ev.TICKET_RECALLED, lifecycle.recall(t, self._now(), RULES))

    def start(self, window_id: str) -> list[dict[str, Any]]:
        """The applicant arrived."""
        t = self.active(window_id)
        if t is None or t.status != "called":
            return []
        return self._ticket(ev.TICKET_SERVING, lifecycle.start(t, self._now()))

    def finish(self, window_id: str) -> list[dict[str, Any]]:
        """The visit ends."""
        t = self.active(window_id)
        if t is None:
            return []
        return self._ticket(ev.TICKET_FINISHED, lifecycle.finish(t, self._now(), None))

    def no_show(self, window_id: str) -> list[dict[str, Any]]:
        """The applicant did not come."""
        t = self.active(window_id)
        if t is None:
            return []
        return self._ticket(ev.TICKET_NO_SHOW, lifecycle.no_show(t, self._now()))

    def transfer(self, window_id: str, queue: str) -> list[dict[str, Any]]:
        """The window's ticket goes to the front of ``queue``."""
        t = self.active(window_id)
        if t is None:
            return []
        heads = [x.position for x in self.tickets.values() if x.status == "waiting"]
        position = min(heads, default=1.0) - 1.0
        return self._ticket(
            ev.TICKET_TRANSFERRED, lifecycle.transfer(t, queue, position, self._now())
        )

    def requeue(self, number: str) -> list[dict[str, Any]]:
        """The guide desk puts a missed ticket back."""
        t = self.by_number(number)
        if t is None or t.status != "no_show" or t.requeues >= RULES.requeue_per_day:
            return []
        moved = lifecycle.requeue(t, t.position + 0.5, self._now(), RULES, DAY)
        return self._ticket(ev.TICKET_REQUEUED, moved)

    def cancel(self, number: str) -> list[dict[str, Any]]:
        """The guide desk cancels a waiting ticket."""
        t = self.by_number(number)
        if t is None or t.status != "waiting":
            return []
        return self._ticket(ev.TICKET_CANCELLED, lifecycle.cancel(t, self._now()))

    def expire(self, number: str) -> list[dict[str, Any]]:
        """Closing time expires a waiting ticket."""
        t = self.by_number(number)
        if t is None or t.status != "waiting":
            return []
        return self._ticket(ev.TICKET_EXPIRED, lifecycle.expire(t, self._now()))

    def pause(self, window_id: str, reason: str = "午休") -> list[dict[str, Any]]:
        """Pause a window with a reason."""
        return self._window(ev.WINDOW_PAUSED, window_id, "paused", reason)

    def resume(self, window_id: str) -> list[dict[str, Any]]:
        """Resume a paused window."""
        if self.windows[window_id].status != "paused":
            return []
        return self._window(ev.WINDOW_RESUMED, window_id, "open", None)

    def open(self, window_id: str) -> list[dict[str, Any]]:
        """Staff take the window."""
        return self._window(ev.WINDOW_OPENED, window_id, "open", None)

    def close(self, window_id: str) -> list[dict[str, Any]]:
        """Close a window with no active ticket."""
        if self.active(window_id) is not None:
            return []
        return self._window(ev.WINDOW_CLOSED, window_id, "closed", None)

    def new_epoch(self, epoch: str) -> None:
        """The hall's history was replaced (a restored backup): seq positions start over."""
        self.epoch, self.seq = epoch, 0
        self.log.clear()

    # -- reads ------------------------------------------------------------------------------

    def active(self, window_id: str) -> Ticket | None:
        """The called or serving ticket of a window."""
        for t in self.tickets.values():
            if t.window == window_id and t.status in ("called", "serving"):
                return t
        return None

    def by_number(self, number: str) -> Ticket | None:
        """Today's ticket with this number."""
        return next((t for t in self.tickets.values() if t.number == number), None)

    def numbers(self, status: str) -> list[str]:
        """Numbers of the tickets in ``status``, in issue order."""
        return [t.number for t in self.tickets.values() if t.status == status]

    def snapshot(self) -> dict[str, Any]:
        """The contract's Snapshot, computed as server/services/snapshot.py does."""
        calls = [e for e in self.log if e["name"] in ev.CALL_EVENTS][::-1][:10]
        missed = sorted(
            (t for t in self.tickets.values() if t.status == "no_show"),
            key=lambda t: t.finished_at or T0,
        )
        return {
            "hall": self.hall,
            "epoch": self.epoch,
            "seq": self.seq,
            "business_date": DAY.isoformat(),
            "windows": [self._window_view(w) for w in self.windows.values()],
            "queues": [self._queue_view(q) for q in QUEUES],
            "recent_calls": [
                {
                    "number": e["data"]["number"],
                    "window": e["data"]["window"],
                    "at": e["at"],
                    "seq": e["seq"],
                }
                for e in calls
            ],
            "missed": [t.number for t in missed],
        }

    def snapshot_frame(self) -> dict[str, Any]:
        """The ``snapshot`` frame the server sends."""
        state = self.snapshot()
        return {
            "type": "snapshot",
            "hall": self.hall,
            "epoch": self.epoch,
            "seq": self.seq,
            "state": state,
        }

    def heartbeat(self) -> dict[str, Any]:
        """A ``heartbeat`` frame at the current seq."""
        return {"type": "heartbeat", "epoch": self.epoch, "seq": self.seq}

    # -- internals ----------------------------------------------------------------------------

    def _now(self) -> datetime:
        self._tick += 1
        return T0 + timedelta(seconds=self._tick)

    def _window_view(self, w: Window) -> dict[str, Any]:
        t = self.active(w.id)
        ticket = None
        if t is not None:
            called_at = t.called_at.isoformat() if t.called_at else None
            ticket = {
                "number": t.number,
                "status": t.status.value,
                "called_at": called_at,
                "recalls": t.recalls,
            }
        return {
            "id": w.id,
            "number": w.number,
            "name": w.name,
            "zone": w.zone,
            "status": w.status,
            "reason": w.reason,
            "ticket": ticket,
            "staff": None,
        }

    def _queue_view(self, queue: str) -> dict[str, Any]:
        waiting = [t for t in self.tickets.values() if t.status == "waiting" and t.queue == queue]
        oldest = min((t.issued_at for t in waiting), default=None)
        longest = int((self._peek() - oldest).total_seconds()) if oldest else 0
        prefix, name = QUEUES[queue]
        return {
            "id": queue,
            "prefix": prefix,
            "name": name,
            "name_en": queue,
            "waiting": len(waiting),
            "longest_wait_s": longest,
        }

    def _peek(self) -> datetime:
        return T0 + timedelta(seconds=self._tick)

    def _open_implicitly(self, w: Window) -> list[dict[str, Any]]:
        return self.open(w.id) if w.status == "closed" else []

    def _window(
        self, name: str, window_id: str, status: str, reason: str | None
    ) -> list[dict[str, Any]]:
        w = self.windows[window_id]
        w.status, w.reason = status, reason
        return [self._frame(ev.window_event(name, window_id, status, reason))]

    def _ticket(self, name: str, t: Ticket) -> list[dict[str, Any]]:
        self.tickets[t.id] = t
        return [self._frame(ev.ticket_event(name, t))]

    def _call(self, name: str, t: Ticket) -> list[dict[str, Any]]:
        self.tickets[t.id] = t
        assert t.window is not None
        w = self.windows[t.window]
        announce = {
            "zh": f"请{t.number}号到{w.number}号窗口办理",
            "en": None,
            "audio": None,
            "repeat": 2,
        }
        event = ev.ticket_event(
            name, t, window_number=w.number, window_name=w.name, zone=w.zone, announce=announce
        )
        return [self._frame(event)]

    def _frame(self, event: ev.Event) -> dict[str, Any]:
        self.seq += 1
        frame = {
            "type": "event",
            "hall": self.hall,
            "epoch": self.epoch,
            "seq": self.seq,
            "name": event.name,
            "at": self._peek().isoformat(),
            "data": dict(event.data),
        }
        self.log.append(frame)
        return frame
