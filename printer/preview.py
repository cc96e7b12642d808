"""PNG previews of a ticket, for the kiosk screen when printing fails and for the docs."""

from __future__ import annotations

import io

from PIL import Image, ImageOps

from printer.compose import compose_ticket
from printer.fonts import FontConfig, resolve_fonts
from printer.layout import PAPERS, PaperWidth, TicketLayoutTexts, TicketPrint
from printer.raster import draw_layout

FRAME_DOTS = 16
FRAME_GREY = 224


def preview_image(
    ticket: TicketPrint,
    width_mm: PaperWidth = 80,
    texts: TicketLayoutTexts | None = None,
    fonts: FontConfig | None = None,
) -> Image.Image:
    """Draw the ticket as it prints, antialiased, on a grey frame.

    Args:
        ticket: the ticket's data.
        width_mm: paper width, 80 or 58.
        texts: labels and reminders from config; built-in ones for the ticket's language if None.
        fonts: font files; the Debian CJK fonts if None.

    Returns:
        A greyscale image, one pixel per printer dot plus the frame.

    Raises:
        FontNotFound: when no CJK font is installed or configured.
    """
    layout = compose_ticket(ticket, PAPERS[width_mm], texts)
    drawing = draw_layout(layout, resolve_fonts(fonts or FontConfig()))
    return ImageOps.expand(drawing.image, border=FRAME_DOTS, fill=FRAME_GREY)


def render_preview(
    ticket: TicketPrint,
    width_mm: PaperWidth = 80,
    texts: TicketLayoutTexts | None = None,
    fonts: FontConfig | None = None,
) -> bytes:
    """Return the PNG bytes of :func:`preview_image`."""
    out = io.BytesIO()
    preview_image(ticket, width_mm, texts, fonts).save(out, format="PNG", optimize=True)
    return out.getvalue()
