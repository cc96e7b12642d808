"""The unit of work of one command: its connection, clock reading, audit rows and events.

Lock order, everywhere: window row → ticket rows → queue state → hall row (seq), so two
commands never wait on each other in opposite orders. The hall row is taken last, by
``flush``, to keep the time it is held (serialising every command in a hall) short.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import insert, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from server.config import HallConfig
from server.domain.events import Event
from server.domain.numbering import business_date
from server.services.actors import Actor
from server.storage.tables import audit, halls, idempotency, outbox


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

    @property
    def today(self) -> date:
        """The hall's business date, computed once per transaction in its time zone."""
        return business_date(self.now, self.hall.tz)

    def emit(self, event: Event) -> None:
        self.events.append(event)

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
        committing is the hall's throughput limit: on PostgreSQL all of this is one
        statement, and callers write nothing else after ``flush``.
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


_FLUSH_PG = text(
    """
    WITH a AS (
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
    SELECT seq, epoch FROM s
    """
)


async def _flush_pg(u: Unit, reply: StoredReply | None) -> tuple[str, int]:
    """Audit rows, the idempotency reply, seq and outbox rows: one statement, hall row last."""
    audits = [{**row, "at": row["at"].isoformat()} for row in u.audits]
    events = [{"name": e.name, "data": e.data} for e in u.events]
    params = {
        "audits": json.dumps(audits),
        "status": reply.status if reply else None,
        "response": reply.body if reply else None,
        "scope": reply.scope if reply else None,
        "key": reply.key if reply else None,
        "n": len(u.events),
        "hall": u.hall.id,
        "at": u.now,
        "events": json.dumps(events, default=str),
    }
    row = (await u.conn.execute(_FLUSH_PG, params)).first()
    return (str(row.epoch), int(row.seq)) if row is not None else ("", 0)


async def _flush_generic(u: Unit, reply: StoredReply | None) -> tuple[str, int]:
    if u.audits:
        await u.conn.execute(insert(audit), u.audits)
    if reply is not None:
        await u.conn.execute(
            update(idempotency)
            .where(idempotency.c.scope == reply.scope, idempotency.c.key == reply.key)
            .values(status_code=reply.status, response=reply.body)
        )
    if not u.events:
        return "", 0
    return await _append_generic(u.conn, u.hall.id, u.now, u.events)


async def _append_generic(
    conn: AsyncConnection, hall: str, now: datetime, events: list[Event]
) -> tuple[str, int]:
    n = len(events)
    row = (
        await conn.execute(
            update(halls)
            .where(halls.c.id == hall)
            .values(seq=halls.c.seq + n)
            .returning(halls.c.seq, halls.c.epoch)
        )
    ).one()
    last = int(row.seq)
    await conn.execute(
        insert(outbox),
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
