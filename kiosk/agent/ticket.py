"""A ``print`` job from the server as the ``printer`` package's ticket, rendered to bytes."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from kiosk.agent.config import PrinterSettings
from printer.layout import ZH_TEXTS, TicketLayoutTexts, TicketPrint
from printer.render import RenderOptions, render_ticket

MAX_COPIES = 3


class BadJob(ValueError):
    """A print job this agent cannot read (a server newer or older than the agent)."""


def ticket_print(job: dict[str, Any]) -> tuple[TicketPrint, TicketLayoutTexts]:
    """The ticket and its foot lines from the job's ``ticket`` and ``layout``.

    Raises:
        BadJob: a field is missing or of the wrong type.
    """
    try:
        t, layout = job["ticket"], job.get("layout") or {}
        zone = ZoneInfo(layout.get("timezone") or "Asia/Shanghai")
        ahead, eta = t.get("waiting_ahead"), t.get("estimated_wait_s")
        ticket = TicketPrint(
            hall_name=str(layout.get("hall_name", "")),
            hall_subtitle=str(layout.get("hall_subtitle", "")),
            zone=str(layout.get("zone", "")),
            service=str(layout.get("service") or t["queue"]),
            number=str(t["number"]),
            waiting_ahead=int(ahead) if ahead is not None else 0,
            estimated_wait_s=int(eta) if eta else None,
            issued_at=datetime.fromisoformat(t["issued_at"]).astimezone(zone),
            status_url=str(layout.get("status_url", "")),
            materials=tuple(str(m) for m in layout.get("materials", ())),
        )
        reminders = layout.get("reminders")
        texts = ZH_TEXTS
        if isinstance(reminders, list):
            texts = dataclasses.replace(ZH_TEXTS, reminders=tuple(str(r) for r in reminders))
    except (KeyError, TypeError, ValueError, AttributeError, ZoneInfoNotFoundError) as exc:
        raise BadJob(f"unreadable print job: {type(exc).__name__}: {exc}") from None
    return ticket, texts


def render_job(job: dict[str, Any], printer: PrinterSettings) -> bytes:
    """The job's ESC/POS bytes, ``copies`` times (at most 3). Raster mode takes ~30 ms: call
    it in a thread.

    Raises:
        BadJob: the job cannot be read.
        PrinterConfigError: raster mode without a CJK font.
    """
    ticket, texts = ticket_print(job)
    copies = job.get("copies", 1)
    if not isinstance(copies, int) or not 1 <= copies <= MAX_COPIES:
        raise BadJob(f"copies must be 1..{MAX_COPIES}, got {copies!r}")
    options = RenderOptions(mode=printer.mode, width_mm=printer.width)
    return render_ticket(ticket, options, texts).data * copies
