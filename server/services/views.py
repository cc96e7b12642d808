"""The contract's JSON views of tickets."""

from __future__ import annotations

from typing import Any

from server.domain.model import Ticket


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def ticket_view(
    t: Ticket, *, waiting_ahead: int | None = None, estimated_wait_s: int | None = None
) -> dict[str, Any]:
    """The contract's ``Ticket`` object (for staff and devices of its hall)."""
    return {
        "id": t.id,
        "hall": t.hall,
        "queue": t.queue,
        "number": t.number,
        "lane": t.lane,
        "service": t.service,
        "channel": t.channel,
        "status": t.status.value,
        "issued_at": _iso(t.issued_at),
        "called_at": _iso(t.called_at),
        "window": t.window,
        "recalls": t.recalls,
        "waiting_ahead": waiting_ahead,
        "estimated_wait_s": estimated_wait_s,
        "status_token": t.status_token,
        "business_date": t.business_date.isoformat(),
        "outcome": t.outcome.value if t.outcome else None,
        "call_reason": t.call_reason,
    }
