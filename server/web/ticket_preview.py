"""Ticket pictures for screens: the printed layout as a PNG, and the status link as a QR code.

``GET /api/v1/tickets/{id}/preview.png?lang=zh|en`` draws the ticket with ``printer.preview``
(the same layout the printer gets), for the kiosk that issued it and the guide desk staff of
its hall: when the printer is out of paper the citizen still sees the whole ticket.
``GET /api/v1/public/tickets/{token}/qr.svg`` is the QR of the status page ``/t/{token}``:
the token is the credential, as for the status page itself.
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
from datetime import datetime
from typing import Any, Literal

import qrcode
import qrcode.image.svg
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from printer.layout import EN_TEXTS, ZH_TEXTS, TicketLayoutTexts, TicketPrint
from printer.preview import render_preview
from server.config import HallConfig
from server.domain.errors import Forbidden, not_found
from server.services import tickets as ticket_service
from server.services.actors import Actor
from server.storage import tickets as ticket_store
from server.storage.rows import ticket_from_row
from server.web.deps import actor, require_hall, state
from server.web.public_live import read_status

Language = Literal["zh", "en"]
PREVIEW_STAFF = frozenset({"guide", "manager", "admin"})
HEADERS = {"Cache-Control": "private, max-age=300"}  # a ticket's picture is for its holder


def status_url(base_url: str, token: str) -> str:
    """The status page of a ticket, under the server's public address (what the QR holds)."""
    return f"{base_url.rstrip('/')}/t/{token}"


def ticket_print(
    hall: HallConfig, view: dict[str, Any], base_url: str, lang: Language
) -> TicketPrint:
    """What the printer would print for the ``Ticket`` view ``view`` (never the lane)."""
    zh = lang == "zh"
    queue = hall.queues[view["queue"]]
    zone = hall.zones.get(queue.zone)
    service = hall.services.get(view["service"]) if view["service"] else None
    if service is not None:
        service_name = service.name if zh else service.name_en
    else:
        service_name = queue.name if zh else queue.name_en
    return TicketPrint(
        hall_name=hall.org_name if zh else hall.org_name_en,
        hall_subtitle=hall.name if zh else hall.name_en,
        zone=(zone.location if zh else zone.name_en) if zone else "",
        service=service_name,
        number=view["number"],
        waiting_ahead=view["waiting_ahead"] or 0,
        estimated_wait_s=view["estimated_wait_s"],
        issued_at=datetime.fromisoformat(view["issued_at"]).astimezone(hall.tz),
        status_url=status_url(base_url, view["status_token"]),
        materials=tuple(service.materials) if service is not None and zh else (),
        language=lang,
    )


def layout_texts(hall: HallConfig, lang: Language) -> TicketLayoutTexts:
    """The printer's built-in labels with the hall's configured reminder lines."""
    if lang == "zh":
        return dataclasses.replace(ZH_TEXTS, reminders=hall.ticket_texts.reminders)
    return dataclasses.replace(EN_TEXTS, reminders=hall.ticket_texts.reminders_en)


def _language(request: Request) -> Language:
    return "en" if request.query_params.get("lang") == "en" else "zh"


def _may_preview(who: Actor, issued_by: str | None) -> bool:
    return who.role in PREVIEW_STAFF or (who.role == "kiosk" and who.audit_id == issued_by)


async def preview_png(request: Request) -> Response:
    """The ticket as printed, for the kiosk that issued it and the hall's guide desk."""
    st = state(request)
    who = await actor(request)
    ticket_id = request.path_params["id"]

    async def read(conn: Any) -> tuple[Any, dict[str, Any]]:
        row = await ticket_store.get_ticket(conn, None, ticket_id)
        if row is None:
            raise not_found("ticket", ticket_id, "票号")
        t = ticket_from_row(row)
        return row, await ticket_service.view(conn, st.config.hall(t.hall), t)

    row, view = await st.commands.read(read)
    await require_hall(request, who, view["hall"])
    if not _may_preview(who, row.issued_by):
        exc = Forbidden(
            "只有出票的取号机和导办台工作人员可以查看票面。",
            "Only the kiosk that issued the ticket and guide desk staff may see its picture.",
            code="forbidden",
        )
        await st.commands.audit_rejection(who, view["hall"], exc)
        raise exc
    hall = st.config.hall(view["hall"])
    lang = _language(request)
    ticket = ticket_print(hall, view, st.config.server.public_base_url, lang)
    # Drawing takes ~30 ms of Pillow: off the event loop.
    png = await asyncio.to_thread(render_preview, ticket, 80, layout_texts(hall, lang))
    return Response(png, media_type="image/png", headers=HEADERS)


def qr_svg_bytes(data: str) -> bytes:
    """A QR code as a self-contained SVG (black modules on white, quiet zone included)."""
    image = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathFillImage, border=4)
    out = io.BytesIO()
    image.save(out)
    return out.getvalue()


async def status_qr(request: Request) -> Response:
    """The QR code of a ticket's status page; 404 for an unknown token."""
    st = state(request)
    token = request.path_params["token"]
    await read_status(st, token)  # the same 404 as the status itself
    svg = qr_svg_bytes(status_url(st.config.server.public_base_url, token))
    return Response(svg, media_type="image/svg+xml", headers=HEADERS)


routes = [
    Route("/tickets/{id}/preview.png", preview_png, methods=["GET"]),
    Route("/public/tickets/{token}/qr.svg", status_qr, methods=["GET"]),
]
