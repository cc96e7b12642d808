"""Value types of the domain: statuses, lanes, policies, tickets and call candidates."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from enum import StrEnum
from typing import Literal


class TicketStatus(StrEnum):
    WAITING = "waiting"
    CALLED = "called"
    SERVING = "serving"
    DONE = "done"
    NO_SHOW = "no_show"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


ACTIVE_STATUSES = frozenset({TicketStatus.CALLED, TicketStatus.SERVING})
END_STATUSES = frozenset(
    {TicketStatus.DONE, TicketStatus.CANCELLED, TicketStatus.EXPIRED, TicketStatus.NO_SHOW}
)


class Outcome(StrEnum):
    """How a visit ended (一次性告知: nothing ends silently)."""

    ACCEPTED = "accepted"
    COMPLETED = "completed"
    CONSULTED = "consulted"
    SUPPLEMENT = "supplement"
    REJECTED = "rejected"


class WindowStatus(StrEnum):
    OPEN = "open"
    PAUSED = "paused"
    CLOSED = "closed"


# Call class of a waiting ticket, stored as a small integer so one index orders the queue.
KLASS_PINNED = 0  # transferred to the front of its queue: called first, reason "transfer"
KLASS_PRIORITY = 1  # a priority lane (military, elderly, disabled, pregnant, appointment)
KLASS_NORMAL = 2

NORMAL_LANE = "normal"

PolicyMode = Literal["strict", "interleave"]
WindowMode = Literal["fifo", "ordered"]
Channel = Literal["kiosk", "guide", "appointment", "mobile"]


@dataclass(frozen=True, slots=True)
class QueuePolicy:
    """How a queue orders priority lanes against normal tickets.

    ``strict``: priority first. ``interleave``: at most ``interleave`` priority calls in a row
    while a normal ticket waits. Both: a normal ticket waiting longer than
    ``normal_max_wait_s`` is called before any priority ticket issued after it.
    """

    mode: PolicyMode = "interleave"
    interleave: int = 2
    normal_max_wait_s: int = 1800


@dataclass(frozen=True, slots=True)
class BusinessHours:
    """When a hall is open: ISO weekdays (1 = Monday) and sessions (e.g. morning, afternoon)."""

    days: frozenset[int] = frozenset({1, 2, 3, 4, 5})
    sessions: tuple[tuple[time, time], ...] = ((time(8, 30), time(17, 30)),)

    @property
    def closing(self) -> time:
        """End of the last session: waiting tickets expire then."""
        return max(end for _, end in self.sessions)


@dataclass(frozen=True, slots=True)
class HallRules:
    """Recall, no-show and requeue rules of a hall."""

    recall_limit: int = 2
    recall_cooldown_s: int = 20
    requeue_after: int = 3
    requeue_per_day: int = 1
    require_end_before_next: bool = False


@dataclass(frozen=True, slots=True)
class Candidate:
    """A waiting ticket at the head of one call class of a queue."""

    ticket_id: str
    queue: str
    lane: str
    lane_rank: int
    klass: int
    position: float
    issued_at: datetime
    requeued: bool = False


@dataclass(frozen=True, slots=True)
class QueueHeads:
    """What selection needs to know about one queue a window serves."""

    queue: str
    policy: QueuePolicy
    streak: int  # priority calls in a row while a normal ticket waited
    pinned: Candidate | None = None
    priority: Candidate | None = None
    normal: Candidate | None = None


@dataclass(frozen=True, slots=True)
class Choice:
    """The ticket selection picked, why, and the queue's new priority streak."""

    candidate: Candidate
    reason: str  # fifo | priority:<lane> | guard:max_wait | transfer | specific | requeue
    streak: int


@dataclass(frozen=True, slots=True)
class Ticket:
    """A ticket as the domain sees it; storage maps rows to and from this."""

    id: str
    hall: str
    queue: str
    number: str
    counter: int
    business_date: date
    lane: str
    lane_rank: int
    service: str | None
    channel: str
    status: TicketStatus
    issued_at: datetime
    position: float
    klass: int = KLASS_NORMAL
    window: str | None = None
    called_at: datetime | None = None
    served_at: datetime | None = None
    finished_at: datetime | None = None
    recalls: int = 0
    last_recall_at: datetime | None = None
    requeues: int = 0
    outcome: Outcome | None = None
    call_reason: str | None = None
    status_token: str = field(default="", repr=False)
