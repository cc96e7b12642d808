"""Render a ticket to ESC/POS bytes, in text mode or raster mode (pure: no I/O but font files)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from printer.compose import TicketLayout, compose_ticket
from printer.errors import PrinterConfigError
from printer.escpos_text import INIT, QrMode, dummy_printer, text_mode_bytes
from printer.fonts import FontConfig, resolve_fonts
from printer.layout import PAPERS, Paper, PaperWidth, TicketLayoutTexts, TicketPrint
from printer.raster import draw_layout, to_monochrome
from printer.text import FirmwareCharset, glyph_risk

RenderMode = Literal["text", "raster"]

# python-escpos splits taller images into several GS v 0 commands; printers with
# small receive buffers choke on one 80 KB command.
RASTER_FRAGMENT_DOTS = 256


@dataclass(frozen=True, slots=True)
class RenderOptions:
    """How to render for one printer.

    Attributes:
        mode: ``text`` for printers with Chinese firmware (small jobs, ``FS &``),
            ``raster`` for printers without it (the ticket drawn with a CJK font).
        width_mm: paper width, 80 (576 dots, 48 columns) or 58 (384 dots, 32 columns).
        profile: python-escpos profile name; None picks a real printer of that width.
        qr: ``native`` (``GS ( k``), ``image``, or ``auto`` from the profile.
        firmware_charset: the largest character set the printer's font has (text mode).
        fonts: font files for raster mode.
    """

    mode: RenderMode = "text"
    width_mm: PaperWidth = 80
    profile: str | None = None
    qr: QrMode = "auto"
    firmware_charset: FirmwareCharset = "gbk"
    fonts: FontConfig = field(default_factory=FontConfig)

    def __post_init__(self) -> None:
        if self.width_mm not in PAPERS:
            raise PrinterConfigError(f"Expected paper width 58 or 80 (mm), got {self.width_mm!r}")

    @property
    def paper(self) -> Paper:
        """The paper, with this option's profile."""
        paper = PAPERS[self.width_mm]
        return Paper(paper.width_mm, paper.dots, paper.columns, self.profile or paper.profile)


@dataclass(frozen=True, slots=True)
class RenderedTicket:
    """A print job and what may not come out right.

    Attributes:
        data: the ESC/POS bytes to send.
        mode: the mode it was rendered in.
        text: the ticket's text, one ``\\n``-terminated line per printed line.
        missing_glyph_risk: characters that may print blank or as boxes: in text mode
            those beyond the printer's firmware charset, in raster mode those no font has.
    """

    data: bytes
    mode: RenderMode
    text: str
    missing_glyph_risk: tuple[str, ...]


def render_ticket(
    ticket: TicketPrint,
    options: RenderOptions | None = None,
    texts: TicketLayoutTexts | None = None,
) -> RenderedTicket:
    """Render ``ticket`` to ESC/POS bytes.

    Args:
        ticket: the ticket's data.
        options: printer mode, paper width and fonts; text mode on 80 mm if None.
        texts: labels and reminders from config; built-in ones for the ticket's language if None.

    Returns:
        The job's bytes, its text, and the characters at risk of not printing.

    Raises:
        FontNotFound: in raster mode, when no CJK font is installed or configured.
    """
    options = options or RenderOptions()
    layout = compose_ticket(ticket, options.paper, texts)
    if options.mode == "raster":
        return _raster(layout, options)
    data = text_mode_bytes(layout, options.paper.profile, options.qr)
    risk = glyph_risk(layout.text, options.firmware_charset)
    return RenderedTicket(data, "text", layout.text, tuple(risk))


def _raster(layout: TicketLayout, options: RenderOptions) -> RenderedTicket:
    """The whole ticket as one ``GS v 0`` raster image, then feed and cut."""
    drawing = draw_layout(layout, resolve_fonts(options.fonts))
    printer = dummy_printer(layout.paper.profile)
    printer._raw(INIT)
    printer.image(
        to_monochrome(drawing.image),
        impl="bitImageRaster",
        fragment_height=RASTER_FRAGMENT_DOTS,
    )
    printer.cut()
    return RenderedTicket(bytes(printer.output), "raster", layout.text, drawing.missing_glyphs)
