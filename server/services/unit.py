"""The unit of work of one command: its connection, clock reading, audit rows and events.

Lock order, everywhere: window row → ticket rows → queue state → hall row (seq), so two
commands never wait on each other in opposite orders. The hall row is taken last, by
``flush``, to keep the time it is held (serialising every command in a hall) short.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from typing import Any

from sqlalchemy import Table, TextClause, bindparam, insert, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from server.config import HallConfig
from server.domain.errors import invalid_transition
from server.domain.events import Event
from server.domain.model import Ticket
from server.domain.numbering import business_date
from server.services.actors import Actor
from server.storage import fast
from server.storage import tickets as store
from server.storage.rows import ticket_values
from server.storage.tables import audit, halls, idempotency, outbox, print_jobs, tickets


@dataclass(frozen=True, slots=True)
class Published:
    """An event as committed to the outbox: what the websocket sends."""

    hall: str
    epoch: str
    seq: int
    name: str
    at: datetime
    data: dict[str, Any]

    def message(self) -> dict[str, Any]:
        """The contract's websocket event frame."""
        return {
            "type": "event",
            "hall": self.hall,
            "epoch": self.epoch,
            "seq": self.seq,
            "name": self.name,
            "at": self.at.isoformat(),
            "data": self.data,
        }


@dataclass
class Unit:
    """State of one command while its transaction is open."""

    conn: AsyncConnection
    hall: HallConfig
    actor: Actor
    now: datetime
    events: list[Event] = field(default_factory=list)
    audits: list[dict[str, Any]] = field(default_factory=list)
    # Ticket writes ``flush`` makes (on PostgreSQL inside its one statement): rows to insert,
    # and guarded updates (ticket, expected status) of rows this command already locked.
    new_tickets: list[dict[str, Any]] = field(default_factory=list)
    saves: list[tuple[Ticket, str]] = field(default_factory=list)
    new_print_jobs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def today(self) -> date:
        """The hall's business date, computed once per transaction in its time zone."""
        return business_date(self.now, self.hall.tz)

    def emit(self, event: Event) -> None:
        self.events.append(event)

    def insert_ticket_at_flush(self, values: dict[str, Any]) -> None:
        """Insert a ticket row in ``flush``: only for a row nothing reads back before it."""
        self.new_tickets.append(values)

    def insert_print_job_at_flush(self, values: dict[str, Any]) -> None:
        """Insert a ``print_jobs`` row in ``flush`` (after the ticket rows it refers to)."""
        self.new_print_jobs.append(values)

    def save_ticket_at_flush(self, ticket: Ticket, expected_status: str) -> None:
        """``store.save_ticket`` in ``flush`` (row-count checked there), for a ticket row
        this command already locked: the update then waits for no lock after the hall row's.
        """
        self.saves.append((ticket, expected_status))

    def audit(
        self,
        action: str,
        *,
        ticket: str | None = None,
        window: str | None = None,
        outcome: str = "ok",
        detail: str | None = None,
    ) -> None:
        """Record who did what; never personal data (numbers, ids and codes only)."""
        self.audits.append(
            audit_row(
                self.actor,
                self.hall.id,
                action,
                self.now,
                ticket=ticket,
                window=window,
                outcome=outcome,
                detail=detail,
            )
        )

    async def flush(self, reply: StoredReply | None = None) -> list[Published]:
        """Write audit rows and the idempotency reply, then take the hall row (last) for seq
        and write the outbox.

        Every command of a hall waits on the hall row, so the time between taking it and
        committing is the hall's throughput limit: on PostgreSQL all of this, with the ticket
        rows given to ``insert_ticket_at_flush`` and ``save_ticket_at_flush``, is one
        statement, and callers write nothing else after ``flush``.

        Raises:
            Conflict: a saved ticket was no longer in its expected status (nothing is kept:
                the transaction rolls back).
        """
        if self.conn.dialect.name == "postgresql":
            epoch, last = await _flush_pg(self, reply)
        else:
            epoch, last = await _flush_generic(self, reply)
        first = last - len(self.events) + 1
        return [
            Published(self.hall.id, epoch, first + i, e.name, self.now, dict(e.data))
            for i, e in enumerate(self.events)
        ]


@dataclass(frozen=True, slots=True)
class StoredReply:
    """A command's answer, kept on its Idempotency-Key row for replays."""

    scope: str
    key: str
    status: int
    body: str


# The audit, idempotency, seq and outbox part of the PostgreSQL flush. The hall row (s) is
# the only row lock taken here: ticket rows updated in the same statement were locked by the
# command before (lock order window → tickets → queue state → hall), and inserted rows lock
# nothing another command waits for.
_FLUSH_PG_TAIL = """
    a AS (
        INSERT INTO audit (at, actor_kind, actor_id, hall_id, window_id, ticket_id, action,
                           outcome, detail)
        SELECT x.at, x.actor_kind, x.actor_id, x.hall_id, x.window_id, x.ticket_id, x.action,
               x.outcome, x.detail
        FROM json_to_recordset(CAST(:audits AS json)) AS x(
            at timestamptz, actor_kind varchar, actor_id varchar, hall_id varchar,
            window_id varchar, ticket_id varchar, action varchar, outcome varchar,
            detail varchar)
    ), i AS (
        UPDATE idempotency SET status_code = :status, response = :response
        WHERE scope = :scope AND key = :key
    ), s AS (
        UPDATE halls SET seq = seq + :n WHERE id = :hall AND :n > 0 RETURNING seq, epoch
    ), o AS (
        INSERT INTO outbox (hall_id, seq, epoch, name, at, data, published)
        SELECT CAST(:hall AS varchar), s.seq - :n + e.ord, s.epoch, e.item->>'name',
               CAST(:at AS timestamptz), e.item->'data', false
        FROM s, json_array_elements(CAST(:events AS json)) WITH ORDINALITY AS e(item, ord)
    )
    SELECT (SELECT seq FROM s) AS seq, (SELECT epoch FROM s) AS epoch, {saved} AS saved
"""


@cache
def _flush_pg_statement(
    inserted: tuple[str, ...], saved: tuple[str, ...], jobs: tuple[str, ...] = ()
) -> TextClause:
    """The one flush statement for ticket rows with these columns (none: no ticket CTE).

    ``json_populate_record(NULL::tickets, …)`` types each value as its column, so the
    statement carries no type list of its own; the column names come from code, never input.
    """
    ctes = []
    if inserted:
        cols = ", ".join(_ticket_column(c) for c in inserted)
        ctes.append(
            f"ti AS (INSERT INTO tickets ({cols}) SELECT {cols} "  # noqa: S608 - names checked
            "FROM json_populate_recordset(NULL::tickets, CAST(:new_tickets AS json)))"
        )
    if saved:
        sets = ", ".join(f"{_ticket_column(c)} = x.{c}" for c in saved)
        ctes.append(
            f"tu AS (UPDATE tickets AS t SET {sets} "  # noqa: S608 - names checked
            "FROM json_array_elements(CAST(:saves AS json)) AS e(item), "
            "json_populate_record(NULL::tickets, e.item->'row') AS x "
            "WHERE t.id = x.id AND t.status = e.item->>'expected' RETURNING t.id)"
        )
    if jobs:
        # Its ticket may be inserted by ``ti`` above: foreign keys are checked at the end of
        # the statement, when both rows exist.
        cols = ", ".join(_column(print_jobs, c) for c in jobs)
        ctes.append(
            f"pj AS (INSERT INTO print_jobs ({cols}) SELECT {cols} "  # noqa: S608 - names checked
            "FROM json_populate_recordset(NULL::print_jobs, CAST(:new_jobs AS json)))"
        )
    tail = _FLUSH_PG_TAIL.format(saved="(SELECT count(*) FROM tu)" if saved else "0")
    return text("WITH " + ", ".join([*ctes, tail.strip()]))


def _ticket_column(name: str) -> str:
    return _column(tickets, name)


def _column(table: Table, name: str) -> str:
    if name not in table.c:
        raise ValueError(f"{table.name} has no column {name!r}")
    return name


# Dates and datetimes as their str() (ISO with a space): PostgreSQL parses them as typed.
_FLUSH_ENCODER = json.JSONEncoder(default=str)


async def _flush_pg(u: Unit, reply: StoredReply | None) -> tuple[str, int]:
    """Ticket rows, audit rows, the idempotency reply, seq and outbox rows: one statement,
    hall row last."""
    audits = [{**row, "at": row["at"].isoformat()} for row in u.audits]
    events = [{"name": e.name, "data": e.data} for e in u.events]
    saves = [
        {"row": {"id": t.id, **ticket_values(t)}, "expected": expected} for t, expected in u.saves
    ]
    inserted = _same_columns(u.new_tickets)
    jobs = _same_columns(u.new_print_jobs)
    saved = tuple(saves[0]["row"]) if saves else ()
    params = {
        "audits": _FLUSH_ENCODER.encode(audits),
        "status": reply.status if reply else None,
        "response": reply.body if reply else None,
        "scope": reply.scope if reply else None,
        "key": reply.key if reply else None,
        "n": len(u.events),
        "hall": u.hall.id,
        "at": u.now,
        "events": _FLUSH_ENCODER.encode(events),
    }
    if inserted:
        params["new_tickets"] = _FLUSH_ENCODER.encode(u.new_tickets)
    if saved:
        params["saves"] = _FLUSH_ENCODER.encode(saves)
    if jobs:
        params["new_jobs"] = _FLUSH_ENCODER.encode(u.new_print_jobs)
    stmt = _flush_pg_statement(inserted, saved, jobs)
    row = (await fast.execute(u.conn, stmt, params)).one()
    if row.saved != len(saves):
        raise invalid_transition("update", "changed")
    return (str(row.epoch), int(row.seq)) if row.seq is not None else ("", 0)


def _same_columns(rows: list[dict[str, Any]]) -> tuple[str, ...]:
    columns = tuple(rows[0]) if rows else ()
    if any(tuple(row) != columns for row in rows):
        raise ValueError("rows inserted in one flush must have the same columns")
    return columns


_INSERT_AUDIT = insert(audit)
_INSERT_PRINT_JOB = insert(print_jobs)
_INSERT_OUTBOX = insert(outbox)
_STORE_REPLY = (
    update(idempotency)
    .where(idempotency.c.scope == bindparam("b_scope"), idempotency.c.key == bindparam("b_key"))
    .values(status_code=bindparam("b_status"), response=bindparam("b_response"))
)
_ADVANCE_SEQ = (
    update(halls)
    .where(halls.c.id == bindparam("b_hall"))
    .values(seq=halls.c.seq + bindparam("b_n", type_=halls.c.seq.type))
    .returning(halls.c.seq, halls.c.epoch)
)


async def _flush_generic(u: Unit, reply: StoredReply | None) -> tuple[str, int]:
    if u.new_tickets:
        await store.insert_tickets(u.conn, u.new_tickets)
    for ticket, expected in u.saves:
        await store.save_ticket(u.conn, ticket, expected)
    if u.new_print_jobs:
        await fast.execute(u.conn, _INSERT_PRINT_JOB, u.new_print_jobs)
    if u.audits:
        await fast.execute(u.conn, _INSERT_AUDIT, u.audits)
    if reply is not None:
        params = {
            "b_scope": reply.scope,
            "b_key": reply.key,
            "b_status": reply.status,
            "b_response": reply.body,
        }
        await fast.execute(u.conn, _STORE_REPLY, params)
    if not u.events:
        return "", 0
    return await _append_generic(u.conn, u.hall.id, u.now, u.events)


async def _append_generic(
    conn: AsyncConnection, hall: str, now: datetime, events: list[Event]
) -> tuple[str, int]:
    n = len(events)
    row = (await fast.execute(conn, _ADVANCE_SEQ, {"b_hall": hall, "b_n": n})).one()
    last = int(row.seq)
    await fast.execute(
        conn,
        _INSERT_OUTBOX,
        [
            {
                "hall_id": hall,
                "seq": last - n + 1 + i,
                "epoch": row.epoch,
                "name": e.name,
                "at": now,
                "data": dict(e.data),
            }
            for i, e in enumerate(events)
        ],
    )
    return str(row.epoch), last


def audit_row(
    actor: Actor,
    hall_id: str | None,
    action: str,
    now: datetime,
    *,
    ticket: str | None = None,
    window: str | None = None,
    outcome: str = "ok",
    detail: str | None = None,
) -> dict[str, Any]:
    """One audit row as a dict for ``insert(audit)``."""
    return {
        "at": now,
        "actor_kind": actor.kind,
        "actor_id": actor.audit_id[:64],
        "hall_id": hall_id,
        "window_id": window,
        "ticket_id": ticket,
        "action": action,
        "outcome": outcome,
        "detail": detail[:200] if detail else None,
    }
