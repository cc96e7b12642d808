"""Mapping between ``tickets`` rows and the domain's Ticket."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row

from server.domain.model import Outcome, Ticket, TicketStatus


def ticket_from_row(row: Row[Any]) -> Ticket:
    """Map a ``tickets`` row to the domain's Ticket.

    By attribute: SQLAlchemy's rows and storage/fast.py's named tuples both have them.
    """
    m = row
    return Ticket(
        id=m.id,
        hall=m.hall_id,
        queue=m.queue_id,
        number=m.number,
        counter=m.counter,
        business_date=m.business_date,
        lane=m.lane,
        lane_rank=m.lane_rank,
        service=m.service,
        channel=m.channel,
        status=TicketStatus(m.status),
        issued_at=m.issued_at,
        position=m.position,
        klass=m.klass,
        window=m.window_id,
        called_at=m.called_at,
        served_at=m.served_at,
        finished_at=m.finished_at,
        recalls=m.recalls,
        last_recall_at=m.last_recall_at,
        requeues=m.requeues,
        outcome=Outcome(m.outcome) if m.outcome else None,
        call_reason=m.call_reason,
        status_token=m.status_token,
    )


def ticket_values(t: Ticket) -> dict[str, Any]:
    """The mutable columns of a ticket, for a guarded UPDATE."""
    return {
        "queue_id": t.queue,
        "status": t.status.value,
        "klass": t.klass,
        "position": t.position,
        "window_id": t.window,
        "called_at": t.called_at,
        "served_at": t.served_at,
        "finished_at": t.finished_at,
        "recalls": t.recalls,
        "last_recall_at": t.last_recall_at,
        "requeues": t.requeues,
        "outcome": t.outcome.value if t.outcome else None,
        "call_reason": t.call_reason,
    }
