"""Window commands on tickets: call next, call a number, recall, start, finish, no-show, transfer.

Every command locks the window row first (serialising commands of one window), then tickets.
Call-next reads each queue's heads with FOR UPDATE SKIP LOCKED on PostgreSQL and picks with the
pure ``choose``, so 25 windows draining one queue never wait on each other and never call one
ticket twice. A head locked but not chosen is released at commit.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row

from server.config.model import AnnounceKind
from server.domain import events, lifecycle
from server.domain.errors import BadRequest, Conflict, not_found
from server.domain.model import (
    KLASS_NORMAL,
    KLASS_PRIORITY,
    Candidate,
    Choice,
    Outcome,
    QueueHeads,
    Ticket,
    TicketStatus,
)
from server.domain.numbering import front_position
from server.domain.selection import choose
from server.services.unit import Unit
from server.services.windows import open_implicitly, require_callable
from server.storage import halls as hall_store
from server.storage import tickets as store
from server.storage.rows import ticket_from_row
from server.voice.announcements import voice_block


async def call_next(u: Unit, window_id: str, *, finish_current: bool) -> Ticket | None:
    """Call the next ticket for a window by its queues' policies; None when nobody waits."""
    u.actor.require_window(u.hall.id, window_id)
    window = await hall_store.get_window(u.conn, u.hall.id, window_id, lock=True)
    require_callable(window)
    await open_implicitly(u, window)
    current = await store.active_ticket(u.conn, u.hall.id, window_id, lock=True)
    if current is not None:
        if not finish_current:
            raise _window_busy(current)
        await _end(u, ticket_from_row(current), "finish", outcome=Outcome.COMPLETED)
    picked = await _pick(u, list(window.queues), window.mode)
    if picked is None:
        return None
    choice, old_streak, row = picked
    ticket = lifecycle.call(ticket_from_row(row), window_id, u.now, choice.reason)
    # Locked by the head read: the guarded update can wait for flush (one statement on PG).
    u.save_ticket_at_flush(ticket, "waiting")
    if choice.streak != old_streak:  # mostly 0 → 0: no write, no lock on the queue row
        await store.set_streak(u.conn, u.hall.id, ticket.queue, choice.streak)
    # A ticket transferred here is told to continue (继续办理), with the transfer template.
    kind: AnnounceKind = "transfer" if choice.reason == "transfer" else "call"
    _announce_call(u, ticket, window, events.TICKET_CALLED, kind)
    u.audit("ticket.call", ticket=ticket.id, window=window_id, detail=choice.reason)
    return ticket


async def _pick(u: Unit, queues: list[str], mode: Any) -> tuple[Choice, int, Row[Any]] | None:
    """The choice, the chosen queue's streak before it, and the chosen (locked) ticket row."""
    rows: dict[str, Row[Any]] = {}
    heads = await _heads(u, queues, rows)
    choice = choose(heads, mode, u.now)
    if choice is None:
        return None
    streak = next(h.streak for h in heads if h.queue == choice.candidate.queue)
    return choice, streak, rows[choice.candidate.ticket_id]


async def _heads(u: Unit, queues: list[str], rows: dict[str, Row[Any]]) -> list[QueueHeads]:
    """Each queue's heads for ``choose``; every head row read is kept in ``rows`` by id."""
    streaks = await store.streaks(u.conn, u.hall.id, queues)
    result = []
    for queue_id in queues:
        queue = u.hall.queues.get(queue_id)
        if queue is None:  # a window edited to serve a queue this config no longer has
            continue
        first = await _head(u, queue_id, None, rows)
        heads = QueueHeads(queue_id, queue.policy, streaks.get(queue_id, 0))
        if first is not None:
            heads = await _complete_heads(u, heads, first, rows)
        result.append(heads)
    return result


async def _head(
    u: Unit, queue_id: str, klass: int | None, rows: dict[str, Row[Any]]
) -> Candidate | None:
    row = await store.head_row(u.conn, u.hall.id, queue_id, klass=klass)
    if row is None:
        return None
    rows[row.id] = row
    return store.candidate(row)


async def _complete_heads(
    u: Unit, heads: QueueHeads, first: Candidate, rows: dict[str, Row[Any]]
) -> QueueHeads:
    # Call order is (klass, lane_rank, position): the first row is the pinned head if any,
    # else the best priority head; only then is a separate normal head needed.
    if first.klass < KLASS_PRIORITY:
        return QueueHeads(heads.queue, heads.policy, heads.streak, pinned=first)
    if first.klass == KLASS_NORMAL:
        return QueueHeads(heads.queue, heads.policy, heads.streak, normal=first)
    normal = await _head(u, heads.queue, KLASS_NORMAL, rows)
    return QueueHeads(heads.queue, heads.policy, heads.streak, priority=first, normal=normal)


async def call_number(u: Unit, window_id: str, number: str) -> Ticket:
    """Call a specific waiting or missed ticket of today by its number (reason ``specific``)."""
    u.actor.require_window(u.hall.id, window_id)
    window = await hall_store.get_window(u.conn, u.hall.id, window_id, lock=True)
    require_callable(window)
    await open_implicitly(u, window)
    current = await store.active_ticket(u.conn, u.hall.id, window_id)
    if current is not None:
        raise _window_busy(current)
    row = await store.get_by_number(u.conn, u.hall.id, u.today, number.strip().upper(), lock=True)
    if row is None:
        raise not_found("ticket", number, "票号")
    before = ticket_from_row(row)
    ticket = lifecycle.call(before, window_id, u.now, "specific")
    await store.save_ticket(u.conn, ticket, before.status.value)
    _announce_call(u, ticket, window, events.TICKET_CALLED, "call")
    u.audit("ticket.call_number", ticket=ticket.id, window=window_id, detail="specific")
    return ticket


async def recall(u: Unit, window_id: str) -> Ticket:
    """Call the window's current ticket again, within the hall's limit and cooldown."""
    window, before = await _current(u, window_id)
    ticket = lifecycle.recall(before, u.now, u.hall.rules)
    await store.save_ticket(u.conn, ticket, before.status.value)
    _announce_call(u, ticket, window, events.TICKET_RECALLED, "recall")
    u.audit("ticket.recall", ticket=ticket.id, window=window_id, detail=str(ticket.recalls))
    return ticket


async def start(u: Unit, window_id: str) -> Ticket:
    """The applicant arrived: called → serving."""
    _, before = await _current(u, window_id)
    ticket = lifecycle.start(before, u.now)
    await store.save_ticket(u.conn, ticket, before.status.value)
    u.emit(events.ticket_event(events.TICKET_SERVING, ticket))
    u.audit("ticket.start", ticket=ticket.id, window=window_id)
    return ticket


async def finish(u: Unit, window_id: str, outcome: Outcome | None) -> Ticket:
    """End the visit with an outcome (default completed)."""
    _, before = await _current(u, window_id)
    return await _end(u, before, "finish", outcome=outcome)


async def no_show(u: Unit, window_id: str) -> Ticket:
    """The applicant did not come (过号): the ticket can be re-queued at the guide desk."""
    _, before = await _current(u, window_id)
    return await _end(u, before, "no_show")


async def _end(u: Unit, before: Ticket, how: str, *, outcome: Outcome | None = None) -> Ticket:
    if how == "finish":
        ticket = lifecycle.finish(before, u.now, outcome)
        name = events.TICKET_FINISHED
    else:
        ticket = lifecycle.no_show(before, u.now)
        name = events.TICKET_NO_SHOW
    await store.save_ticket(u.conn, ticket, before.status.value)
    u.emit(events.ticket_event(name, ticket, window_number=None))
    detail = ticket.outcome.value if ticket.outcome else None
    u.audit(f"ticket.{how}", ticket=ticket.id, window=before.window, detail=detail)
    return ticket


async def transfer(
    u: Unit, window_id: str, *, queue_id: str | None, target_window: str | None
) -> Ticket:
    """Move the current ticket to another queue (or a window's queue), front of it by default."""
    _, before = await _current(u, window_id)
    target_queue = await _transfer_queue(u, queue_id, target_window)
    position = front_position(await store.min_position(u.conn, u.hall.id, target_queue))
    ticket = lifecycle.transfer(before, target_queue, position, u.now)
    await store.save_ticket(u.conn, ticket, before.status.value)
    u.emit(events.ticket_event(events.TICKET_TRANSFERRED, ticket))
    u.audit("ticket.transfer", ticket=ticket.id, window=window_id, detail=f"to {target_queue}")
    return ticket


async def _transfer_queue(u: Unit, queue_id: str | None, target_window: str | None) -> str:
    if queue_id is None and target_window is None:
        raise BadRequest(
            "请选择转办的目标队列或窗口。",
            "Give a target 'queue' and/or 'window'.",
            code="validation_error",
            details={"fields": {"queue": "required without window", "window": "or this"}},
        )
    if queue_id is not None and queue_id not in u.hall.queues:
        raise not_found("queue", queue_id, "队列")
    if target_window is None:
        assert queue_id is not None
        return queue_id
    window = await hall_store.get_window(u.conn, u.hall.id, target_window)
    served = list(window.queues)
    if queue_id is not None and queue_id not in served:
        raise BadRequest(
            f"窗口 {target_window} 不办理队列 {queue_id} 的业务。",
            f"Window {target_window} does not serve queue {queue_id}.",
            code="validation_error",
            details={"fields": {"queue": "not served by the target window"}},
        )
    return queue_id or served[0]


async def _current(u: Unit, window_id: str) -> tuple[Row[Any], Ticket]:
    u.actor.require_window(u.hall.id, window_id)
    window = await hall_store.get_window(u.conn, u.hall.id, window_id, lock=True)
    row = await store.active_ticket(u.conn, u.hall.id, window_id, lock=True)
    if row is None:
        raise Conflict(
            "本窗口当前没有正在呼叫或办理的票号，请先叫号。",
            f"Window {window_id} has no called or serving ticket; call one first.",
            code="no_active_ticket",
            details={"window": window_id},
        )
    return window, ticket_from_row(row)


def _window_busy(current: Row[Any]) -> Conflict:
    status = TicketStatus(current.status)
    return Conflict(
        f"本窗口的 {current.number} 号尚未办结，请先完成、过号或转办，再叫下一位。",
        f"Window has active ticket {current.number} ({status}); finish it or pass "
        '"finish_current": true.',
        code="window_busy",
        details={"number": current.number, "status": status.value},
    )


def _announce_call(u: Unit, t: Ticket, window: Row[Any], name: str, kind: AnnounceKind) -> None:
    block = voice_block(u.hall, kind, t.number, int(window.number))
    u.emit(
        events.ticket_event(
            name,
            t,
            window_number=int(window.number),
            window_name=window.name,
            zone=window.zone,
            announce=block,
        )
    )
