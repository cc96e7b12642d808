"""Ticket-level commands and reads: requeue, cancel, evaluation, expiry, status views."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from server.config import HallConfig
from server.domain import events, lifecycle
from server.domain.errors import BadRequest, Conflict, Forbidden, not_found
from server.domain.eta import estimate_wait_s
from server.domain.model import Ticket, TicketStatus
from server.domain.numbering import issue_position, requeue_position, should_expire
from server.domain.privacy import redact
from server.services import eta_cache
from server.services.unit import Unit
from server.services.views import ticket_view
from server.storage import tickets as store
from server.storage.rows import ticket_from_row
from server.storage.tables import counters, evaluations, tickets

FOLLOWUP_WORKING_DAYS = 5


async def load(
    conn: AsyncConnection, hall_id: str | None, ticket_id: str, *, lock: bool = False
) -> Ticket:
    row = await store.get_ticket(conn, hall_id, ticket_id, lock=lock)
    if row is None:
        raise not_found("ticket", ticket_id, "票号")
    return ticket_from_row(row)


async def view(
    conn: AsyncConnection, hall: HallConfig, t: Ticket, *, new: bool = False
) -> dict[str, Any]:
    """Ticket JSON with people ahead and an estimated wait, for waiting tickets.

    ``new``: ``t`` was just issued (the end of its group), so people ahead come from the
    maintained counts instead of a count over the queue.
    """
    if t.status != TicketStatus.WAITING:
        return ticket_view(t, waiting_ahead=0, estimated_wait_s=0)
    count = store.waiting_ahead_of_new if new else store.waiting_ahead
    ahead = await count(conn, t)
    recent = await eta_cache.recent_service_seconds(conn, hall.id, t.queue)
    serving = sum(1 for w in hall.windows.values() if t.queue in w.queues) or 1
    expected = hall.services[t.service].expected_minutes if t.service in hall.services else None
    eta = estimate_wait_s(ahead, recent, serving, expected)
    return ticket_view(t, waiting_ahead=ahead, estimated_wait_s=eta)


def public_view(ticket: dict[str, Any]) -> dict[str, Any]:
    """What anyone holding the status link may see: no lane, no ids, nothing personal."""
    return {
        "number": ticket["number"],
        "status": ticket["status"],
        "waiting_ahead": ticket["waiting_ahead"],
        "window": ticket["window"],
        "estimated_wait_s": ticket["estimated_wait_s"],
    }


async def requeue(u: Unit, ticket_id: str) -> Ticket:
    """A missed ticket back into its queue, after the next N waiting (guide desk, same day)."""
    u.actor.require_role("guide", "manager")
    u.actor.require_hall(u.hall.id)
    before = await load(u.conn, u.hall.id, ticket_id, lock=True)
    klass = lifecycle.klass_for(before.lane)
    ahead = await store.next_positions(
        u.conn, u.hall.id, before.queue, klass, before.lane_rank, u.hall.rules.requeue_after + 1
    )
    position = requeue_position(ahead, u.hall.rules.requeue_after)
    if ahead and len(ahead) <= u.hall.rules.requeue_after:
        # Last in line: stay ahead of the next ticket issued (its position is its counter),
        # else the two tie and call-next picks between them arbitrarily.
        upcoming = issue_position(await _issued_today(u, before.queue) + 1)
        if upcoming > ahead[-1]:
            position = (ahead[-1] + upcoming) / 2.0
    ticket = lifecycle.requeue(before, position, u.now, u.hall.rules, u.today)
    await store.save_ticket(u.conn, ticket, before.status.value)
    u.emit(events.ticket_event(events.TICKET_REQUEUED, ticket))
    u.audit("ticket.requeue", ticket=ticket.id)
    return ticket


async def _issued_today(u: Unit, queue: str) -> int:
    c = counters.c
    stmt = select(c.value).where(
        c.hall_id == u.hall.id, c.queue_id == queue, c.business_date == u.today
    )
    return int((await u.conn.execute(stmt)).scalar() or 0)


async def cancel(u: Unit, ticket_id: str) -> Ticket:
    """Cancel a waiting ticket (guide desk)."""
    u.actor.require_role("guide", "manager")
    u.actor.require_hall(u.hall.id)
    before = await load(u.conn, u.hall.id, ticket_id, lock=True)
    ticket = lifecycle.cancel(before, u.now)
    await store.save_ticket(u.conn, ticket, before.status.value)
    u.emit(events.ticket_event(events.TICKET_CANCELLED, ticket))
    u.audit("ticket.cancel", ticket=ticket.id)
    return ticket


async def expire_due(u: Unit) -> int:
    """Expire waiting tickets of past days or after closing; nothing is deleted."""
    # Only the due ones are read and locked: locking every waiting ticket once a minute would
    # make call-next (SKIP LOCKED) see an empty queue while this runs.
    today = u.today
    due_until = (
        today
        if should_expire(today, u.now, u.hall.tz, u.hall.hours)
        else (today - timedelta(days=1))
    )
    rows = (
        await u.conn.execute(
            select(tickets)
            .where(
                tickets.c.hall_id == u.hall.id,
                tickets.c.status == "waiting",
                tickets.c.business_date <= due_until,
            )
            .with_for_update(skip_locked=True)
        )
    ).all()
    count = 0
    for row in rows:
        before = ticket_from_row(row)
        if should_expire(before.business_date, u.now, u.hall.tz, u.hall.hours):
            ticket = lifecycle.expire(before, u.now)
            await store.save_ticket(u.conn, ticket, "waiting")
            u.emit(events.ticket_event(events.TICKET_EXPIRED, ticket))
            count += 1
    if count:
        u.audit("tickets.expire", detail=str(count))
    return count


async def evaluate(
    u: Unit, ticket_id: str, rating: int, reasons: list[str], comment: str | None
) -> dict[str, Any]:
    """Store the one evaluation of a visit (一次一评); ratings 1-2 open a follow-up case."""
    u.actor.require_role("evaluator", "manager")
    u.actor.require_hall(u.hall.id)
    t = await load(u.conn, u.hall.id, ticket_id)
    _check_evaluable(u, t, rating)
    due = add_working_days(u.today, FOLLOWUP_WORKING_DAYS) if rating <= 2 else None
    values = {
        "ticket_id": t.id,
        "hall_id": t.hall,
        "window_id": t.window,
        "rating": rating,
        # Free text from citizens: ID and mobile numbers are masked before storing (R13).
        "reasons": [redact(r) for r in reasons],
        "comment": redact(comment) if comment is not None else None,
        "created_at": u.now,
        "followup_due": due,
    }
    try:
        async with u.conn.begin_nested():
            await u.conn.execute(evaluations.insert().values(**values))
    except IntegrityError:
        raise Conflict(
            "该票号已评价过，每次办事只能评价一次。",
            "This visit was already evaluated.",
            code="already_evaluated",
        ) from None
    u.audit("ticket.evaluate", ticket=t.id, window=t.window, detail=str(rating))
    return {"ticket": t.id, "rating": rating, "followup_due": due.isoformat() if due else None}


def _check_evaluable(u: Unit, t: Ticket, rating: int) -> None:
    if not 1 <= rating <= 5:
        raise BadRequest(
            "评价等级须为 1–5。",
            "rating must be 1..5.",
            code="validation_error",
            details={"fields": {"rating": "integer 1..5"}},
        )
    if u.actor.role == "evaluator" and u.actor.window not in (None, t.window):
        raise Forbidden(
            "评价器只能评价本窗口办理的票号。",
            "An evaluator rates tickets of its own window only.",
            code="wrong_window",
        )
    if t.status in (TicketStatus.WAITING, TicketStatus.CANCELLED, TicketStatus.EXPIRED):
        raise Conflict(
            "该票号尚未办理，暂不能评价。",
            f"Ticket is {t.status}; nothing to rate yet.",
            code="invalid_transition",
            details={"status": t.status.value},
        )


def add_working_days(day: date, n: int) -> date:
    """``n`` working days (Mon-Fri) after ``day``; public holidays are not modelled yet."""
    while n > 0:
        day += timedelta(days=1)
        if day.isoweekday() <= 5:
            n -= 1
    return day
