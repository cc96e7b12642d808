"""The unit of work of one command: its connection, clock reading, audit rows and events.

Lock order, everywhere: window row → ticket rows → queue state → hall row (seq), so two
commands never wait on each other in opposite orders. The hall row is taken last, by
``flush``, to keep the time it is held (serialising every command in a hall) short.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import insert, update
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
        """Write audit rows, then take the hall row (last) for seq and write the outbox."""
        if self.audits:
            await self.conn.execute(insert(audit), self.audits)
        if not self.events:
            return []
        n = len(self.events)
        row = (
            await self.conn.execute(
                update(halls)
                .where(halls.c.id == self.hall.id)
                .values(seq=halls.c.seq + n)
                .returning(halls.c.seq, halls.c.epoch)
            )
        ).one()
        first = row.seq - n + 1
        published = [
            Published(self.hall.id, row.epoch, first + i, e.name, self.now, dict(e.data))
            for i, e in enumerate(self.events)
        ]
        await self.conn.execute(
            insert(outbox),
            [
                {
                    "hall_id": p.hall,
                    "seq": p.seq,
                    "epoch": p.epoch,
                    "name": p.name,
                    "at": p.at,
                    "data": p.data,
                }
                for p in published
            ],
        )
        return published


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
