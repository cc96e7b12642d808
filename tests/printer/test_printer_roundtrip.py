"""Render, send over TCP to the virtual printer, and read back what it printed."""

from __future__ import annotations

from dataclasses import replace

import pytest

from printer.compose import compose_ticket
from printer.fonts import FontConfig, covers, resolve_fonts
from printer.layout import PaperWidth, TicketPrint
from printer.raster import draw_layout, to_monochrome
from printer.render import RenderOptions, render_ticket
from printer.transports import open_transport
from printer.virtual import VirtualPrinter

WIDTHS: list[PaperWidth] = [80, 58]
RARE = ("𠀀", "䶮")


async def _print(printer: VirtualPrinter, data: bytes) -> str:
    """Send a job and return the text the printer decoded."""
    await open_transport(printer.url, 2.0).send(data)
    return (await printer.next_job()).text


@pytest.mark.parametrize("width", WIDTHS)
async def test_text_mode_prints_the_tickets_text(
    virtual_printer: VirtualPrinter, tricky_ticket: TicketPrint, width: PaperWidth
) -> None:
    """Full-width punctuation alone on a line, mixed Chinese/ASCII lines, a wrapping service
    name and rare characters all come back from the printer exactly as laid out."""
    rendered = render_ticket(tricky_ticket, RenderOptions(width_mm=width))
    lines = rendered.text.splitlines()
    assert "  □ 。" in lines and "  □ ——" in lines
    assert any("East" in line and "东区" in line for line in lines)  # mixed Chinese/ASCII
    assert sum(line.startswith("  业务：") for line in lines) == 1
    assert any(line.startswith(" " * 8) for line in lines[:6])  # the service name wrapped
    assert await _print(virtual_printer, rendered.data) == rendered.text


async def test_text_mode_reports_rare_characters(
    virtual_printer: VirtualPrinter, tricky_ticket: TicketPrint
) -> None:
    """In text mode, characters beyond a GBK printer font are sent but reported as at risk."""
    rendered = render_ticket(tricky_ticket)
    assert rendered.missing_glyph_risk == RARE
    printed = await _print(virtual_printer, rendered.data)
    assert all(ch in printed for ch in RARE)


@pytest.mark.parametrize("width", WIDTHS)
async def test_raster_mode_prints_rare_characters(
    virtual_printer: VirtualPrinter, tricky_ticket: TicketPrint, width: PaperWidth
) -> None:
    """In raster mode every character, rare ones included, has a real glyph, and the printer
    receives exactly the drawn ticket."""
    rendered = render_ticket(tricky_ticket, RenderOptions(mode="raster", width_mm=width))
    faces = resolve_fonts(FontConfig())
    assert rendered.missing_glyph_risk == ()
    assert all(any(covers(face, ch) for face in faces) for ch in RARE), (
        "no font draws 𠀀: install the Debian package fonts-hanazono"
    )
    await open_transport(virtual_printer.url, 2.0).send(rendered.data)
    job = await virtual_printer.next_job()
    drawn = draw_layout(compose_ticket(tricky_ticket, RenderOptions(width_mm=width).paper), faces)
    assert len(job.images) == 1
    assert job.images[0].tobytes() == to_monochrome(drawn.image).convert("L").tobytes()
    assert job.text == ""


async def test_native_qr_carries_the_status_url(
    virtual_printer: VirtualPrinter, ticket: TicketPrint
) -> None:
    """80 mm printers get a native GS ( k QR code holding the status URL, then a cut."""
    await open_transport(virtual_printer.url, 2.0).send(render_ticket(ticket).data)
    job = await virtual_printer.next_job()
    assert job.qr_codes == (ticket.status_url,)
    assert job.cuts == 1
    assert job.unknown_commands == ()


async def test_58mm_qr_falls_back_to_an_image(
    virtual_printer: VirtualPrinter, ticket: TicketPrint
) -> None:
    """The 58 mm profile has no GS ( k, so the QR code goes as a full-width image."""
    await open_transport(virtual_printer.url, 2.0).send(
        render_ticket(ticket, RenderOptions(width_mm=58)).data
    )
    job = await virtual_printer.next_job()
    assert job.qr_codes == ()
    assert [image.width for image in job.images] == [384]


async def test_ascii_ticket_never_enters_chinese_mode(ticket: TicketPrint) -> None:
    """An all-ASCII English ticket sends no FS &, so printers without Chinese firmware print it."""
    english = replace(
        ticket,
        hall_name="Chengmai",
        hall_subtitle="Jinjiang",
        zone="1F",
        service="Social affairs",
        materials=(),
        language="en",
    )
    rendered = render_ticket(english)
    assert b"\x1c&" not in rendered.data
    assert rendered.data.startswith(b"\x1b@\x1c.")
