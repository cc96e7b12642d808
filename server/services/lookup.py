"""Finding a ticket by its printed number (guide desk: 「我的号是 A005」)."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from server.config import HallConfig
from server.domain.errors import BadRequest, NotFound
from server.domain.numbering import business_date
from server.services import tickets as ticket_service
from server.services.actors import Actor
from server.storage import tickets as store
from server.storage.rows import ticket_from_row

# A prefix of letters and a counter: what a citizen reads off the ticket (A005, Y012, GA1000).
NUMBER = re.compile(r"[A-Z]{1,4}\d{1,6}")
LOOKUP_ROLES = ("guide", "manager")  # admin always passes require_role


def normalize_number(raw: str | None) -> str:
    """``" a005 "`` → ``"A005"``; 400 when it is not a ticket number."""
    number = (raw or "").strip().upper()
    if not NUMBER.fullmatch(number):
        raise BadRequest(
            f"票号「{(raw or '')[:20]}」格式不对，应为字母加数字，例如 A005。",
            f"number={(raw or '')[:20]!r} is not a ticket number; expected letters then "
            "digits, e.g. A005.",
            code="validation_error",
            details={"fields": {"number": "letters then digits, e.g. A005"}},
        )
    return number


def parse_day(raw: str | None, hall: HallConfig, now: Any) -> date:
    """The business date to search: ``date=YYYY-MM-DD`` or the hall's today."""
    if raw is None:
        return business_date(now, hall.tz)
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise BadRequest(
            f"日期「{raw[:20]}」格式不对，应为 YYYY-MM-DD，例如 2026-11-27。",
            f"date={raw[:20]!r} is not YYYY-MM-DD.",
            code="validation_error",
            details={"fields": {"date": "YYYY-MM-DD"}},
        ) from None


async def find_by_number(
    conn: AsyncConnection, hall: HallConfig, who: Actor, number: str, day: date
) -> dict[str, Any]:
    """The ``Ticket`` numbered ``number`` on business day ``day`` in ``hall``.

    Numbers are unique per hall and day, so at most one ticket matches.

    Raises:
        Forbidden: unless the actor is guide, manager or admin staff of the hall.
        NotFound: ``ticket_not_found`` when no ticket has that number that day.
    """
    who.require_role(*LOOKUP_ROLES)
    who.require_hall(hall.id)
    row = await store.get_by_number(conn, hall.id, day, number)
    if row is None:
        raise NotFound(
            f"{day.isoformat()} 没有票号 {number}，请核对号码和日期。",
            f"No ticket {number} in hall {hall.id!r} on {day.isoformat()}.",
            code="ticket_not_found",
            details={"number": number, "date": day.isoformat()},
        )
    return await ticket_service.view(conn, hall, ticket_from_row(row))
