"""Today's visits at one window (the terminal's history list), read from the audit log.

A ticket row keeps only its latest state: a transfer forgets the window that sent the ticket
on, and a missed ticket called again elsewhere now names that window. The audit log keeps every
command each window ran, in order, so a window's day is rebuilt from it: a call opens a visit,
a start marks the applicant arrived, and a finish, no-show or transfer closes it. Only numbers,
outcomes and times leave this module: no names, no lane.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from server.config import HallConfig
from server.domain.model import Outcome
from server.domain.numbering import business_date
from server.storage import halls as hall_store
from server.storage.tables import audit, tickets

CALLS = frozenset({"ticket.call", "ticket.call_number"})
START = "ticket.start"
# The audit action that closes a visit → how the visit ended ("finish" carries its outcome).
ENDS = {"ticket.finish": None, "ticket.no_show": "no_show", "ticket.transfer": "transferred"}
ACTIONS = (*sorted(CALLS), START, *ENDS)
# A busy window makes ~100 calls a day (3-4 audit rows each); the bound only stops a runaway.
MAX_ROWS = 5000


@dataclass(frozen=True, slots=True)
class Step:
    """One successful audit row of the window: what was done to which ticket, and when."""

    action: str
    ticket: str
    number: str
    at: datetime
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class Visit:
    """A visit that ended at the window: outcome is an ``Outcome``, no_show or transferred."""

    number: str
    outcome: str
    called_at: datetime | None
    served_at: datetime | None
    ended_at: datetime


def visits(steps: Iterable[Step]) -> list[Visit]:
    """Fold a window's steps (oldest first) into its ended visits, newest first.

    A visit whose call fell before the rows read (or before midnight) has no ``called_at``;
    a visit still open (called or serving now) is not listed.
    """
    open_: dict[str, Visit] = {}
    ended: list[Visit] = []
    for s in steps:
        if s.action in CALLS:
            open_[s.ticket] = Visit(s.number, "", s.at, None, s.at)
        elif s.action == START and s.ticket in open_:
            open_[s.ticket] = replace(open_[s.ticket], served_at=s.at)
        elif s.action in ENDS:
            began = open_.pop(s.ticket, None) or Visit(s.number, "", None, None, s.at)
            outcome = ENDS[s.action] or s.detail or Outcome.COMPLETED.value
            ended.append(replace(began, outcome=outcome, ended_at=s.at))
    return ended[::-1]


def day_start(now: datetime, hall: HallConfig) -> datetime:
    """Midnight of the hall's business day at ``now``, as a UTC instant."""
    local_midnight = datetime.combine(business_date(now, hall.tz), time(0), tzinfo=hall.tz)
    return local_midnight.astimezone(UTC)


async def read_steps(
    conn: AsyncConnection, hall_id: str, window_id: str, since: datetime
) -> list[Step]:
    """The window's successful ticket commands since ``since``, oldest first (≤ MAX_ROWS)."""
    a = audit.c
    stmt = (
        select(a.action, a.ticket_id, a.at, a.detail, tickets.c.number)
        .join(tickets, tickets.c.id == a.ticket_id)
        .where(
            a.hall_id == hall_id,
            a.at >= since,
            a.window_id == window_id,
            a.outcome == "ok",
            a.action.in_(ACTIONS),
        )
        .order_by(a.id.desc())
        .limit(MAX_ROWS)
    )
    rows = (await conn.execute(stmt)).all()
    return [Step(r.action, r.ticket_id, r.number, r.at, r.detail) for r in reversed(rows)]


async def window_history(
    conn: AsyncConnection, hall: HallConfig, window_id: str, now: datetime
) -> dict[str, Any]:
    """``{"hall","window","business_date","visits":[…]}``: today's ended visits, newest first."""
    await hall_store.get_window(conn, hall.id, window_id)  # 404 for a window the hall lacks
    steps = await read_steps(conn, hall.id, window_id, day_start(now, hall))
    return {
        "hall": hall.id,
        "window": window_id,
        "business_date": business_date(now, hall.tz).isoformat(),
        "visits": [_visit_view(v) for v in visits(steps)],
    }


def _visit_view(v: Visit) -> dict[str, Any]:
    def iso(t: datetime | None) -> str | None:
        return t.isoformat() if t is not None else None

    return {
        "number": v.number,
        "outcome": v.outcome,
        "called_at": iso(v.called_at),
        "served_at": iso(v.served_at),
        "ended_at": iso(v.ended_at),
    }
