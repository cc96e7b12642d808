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
from server.storage.tables import audit, halls, outbox


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

    async def flush(self) -> list[Published]:
        """Write audit rows, then take the hall row (last) for seq and write the outbox.

        Every command of a hall waits on the hall row, so the time between taking it and
        committing is the hall's throughput limit: on PostgreSQL seq and outbox rows are one
        statement, and callers write nothing else after ``flush``.
        """
        if self.audits:
            await self.conn.execute(insert(audit), self.audits)
        if not self.events:
            return []
        if self.conn.dialect.name == "postgresql":
            epoch, last = await _append_pg(self.conn, self.hall.id, self.now, self.events)
        else:
            epoch, last = await _append_generic(self.conn, self.hall.id, self.now, self.events)
        first = last - len(self.events) + 1
        return [
            Published(self.hall.id, epoch, first + i, e.name, self.now, dict(e.data))
            for i, e in enumerate(self.events)
        ]


_APPEND_PG = text(
    """
    WITH s AS (
        UPDATE halls SET seq = seq + :n WHERE id = :hall RETURNING seq, epoch
    ), ins AS (
        INSERT INTO outbox (hall_id, seq, epoch, name, at, data, published)
        SELECT CAST(:hall AS varchar), s.seq - :n + e.ord, s.epoch, e.item->>'name',
               CAST(:at AS timestamptz), e.item->'data', false
        FROM s, json_array_elements(CAST(:events AS json)) WITH ORDINALITY AS e(item, ord)
    )
    SELECT seq, epoch FROM s
    """
)


async def _append_pg(
    conn: AsyncConnection, hall: str, now: datetime, events: list[Event]
) -> tuple[str, int]:
    payload = json.dumps([{"name": e.name, "data": e.data} for e in events], default=str)
    row = (
        await conn.execute(
            _APPEND_PG, {"n": len(events), "hall": hall, "at": now, "events": payload}
        )
    ).one()
    return str(row.epoch), int(row.seq)


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
