"""Lay a ticket out as blocks (lines, rules, QR) on a paper width; both print modes draw these."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from printer.layout import Paper, TicketLayoutTexts, TicketPrint, default_texts
from printer.text import clean_text, text_columns, wrap, wrap_labeled

Align = Literal["left", "center"]

MAX_NUMBER_SCALE = 4
SECTION_GAP_DOTS = 12


@dataclass(frozen=True, slots=True)
class TextLine:
    """One printed line; ``width``/``height`` are the ``GS !`` magnifications (1–8)."""

    text: str
    align: Align = "left"
    width: int = 1
    height: int = 1
    bold: bool = False


@dataclass(frozen=True, slots=True)
class Rule:
    """A separator line across the paper."""


@dataclass(frozen=True, slots=True)
class QrCode:
    """A QR code, centred."""

    data: str


@dataclass(frozen=True, slots=True)
class Feed:
    """Blank paper, in dots."""

    dots: int


Block = TextLine | Rule | QrCode | Feed


@dataclass(frozen=True, slots=True)
class TicketLayout:
    """A ticket laid out for one paper width."""

    paper: Paper
    blocks: tuple[Block, ...]

    @property
    def text(self) -> str:
        """The ticket's printed text, one ``\\n``-terminated line per text line or rule."""
        return "".join(_block_text(block, self.paper) + "\n" for block in self.printed_lines)

    @property
    def printed_lines(self) -> tuple[TextLine | Rule, ...]:
        """The blocks that print characters."""
        return tuple(b for b in self.blocks if isinstance(b, TextLine | Rule))


def _block_text(block: TextLine | Rule, paper: Paper) -> str:
    """The characters a text block prints; a rule prints dashes across the paper."""
    return block.text if isinstance(block, TextLine) else "-" * paper.columns


def compose_ticket(
    ticket: TicketPrint, paper: Paper, texts: TicketLayoutTexts | None = None
) -> TicketLayout:
    """Lay ``ticket`` out on ``paper``, following domain.md's sample ticket.

    Args:
        ticket: the ticket's data.
        paper: the paper width, e.g. ``PAPERS[80]``.
        texts: labels and reminders; the built-in ones for ``ticket.language`` if None.

    Returns:
        The layout, with every line wrapped to the paper's columns.
    """
    texts = texts or default_texts(ticket.language)
    sections = (
        _header(ticket, texts, paper),
        _service(ticket, texts, paper),
        _number(ticket, paper),
        _waiting(ticket, texts, paper),
        _materials(ticket, texts, paper),
        _reminders(ticket, texts, paper),
    )
    blocks = (block for section in sections if section for block in (*section, Rule()))
    return TicketLayout(paper, tuple(blocks))


def _centered(
    text: str, paper: Paper, *, scale: tuple[int, int] = (1, 1), bold: bool = False
) -> list[Block]:
    """Centred lines of one size, wrapped to the columns left at that width."""
    cleaned = clean_text(text).strip()
    width, height = scale
    lines = wrap(cleaned, paper.columns // width) if cleaned else []
    return [TextLine(line, "center", width, height, bold) for line in lines]


def _indented(text: str, paper: Paper) -> list[Block]:
    """Free text wrapped inside the left margin; empty text gives no line."""
    cleaned = clean_text(text).strip()
    return [TextLine(line) for line in wrap_labeled("", cleaned, paper.columns)] if cleaned else []


def _labeled(label: str, value: str, paper: Paper) -> list[Block]:
    """Lines of ``label value`` with a hanging indent; nothing when the value is empty."""
    value = clean_text(value).strip()
    if not value:
        return []
    return [TextLine(line) for line in wrap_labeled(clean_text(label), value, paper.columns)]


def _header(ticket: TicketPrint, texts: TicketLayoutTexts, paper: Paper) -> list[Block]:
    """Hall name in double height and bold, then the subtitle."""
    subtitle = texts.subtitle_template.format(subtitle=ticket.hall_subtitle)
    name = _centered(ticket.hall_name, paper, scale=(1, 2), bold=True)
    return name + (_centered(subtitle, paper) if ticket.hall_subtitle.strip() else [])


def _service(ticket: TicketPrint, texts: TicketLayoutTexts, paper: Paper) -> list[Block]:
    """Service and zone lines."""
    return _labeled(texts.service_label, ticket.service, paper) + _labeled(
        texts.zone_label, ticket.zone, paper
    )


def _number(ticket: TicketPrint, paper: Paper) -> list[Block]:
    """The ticket number, as large as fits (at most 4x), bold, with space around it."""
    number = clean_text(ticket.number).strip()
    scale = max(1, min(MAX_NUMBER_SCALE, paper.columns // max(1, text_columns(number))))
    lines = _centered(number, paper, scale=(scale, scale), bold=True)
    return [Feed(SECTION_GAP_DOTS), *lines, Feed(SECTION_GAP_DOTS)]


def _waiting(ticket: TicketPrint, texts: TicketLayoutTexts, paper: Paper) -> list[Block]:
    """People ahead, estimated wait and issue time."""
    ahead = texts.waiting_ahead.format(ahead=ticket.waiting_ahead)
    waiting = ahead if ticket.waiting_ahead else texts.waiting_none
    if ticket.estimated_wait_s is not None and ticket.waiting_ahead:
        waiting += texts.eta.format(minutes=math.ceil(ticket.estimated_wait_s / 60))
    issued = ticket.issued_at.strftime("%Y-%m-%d %H:%M:%S")
    return _indented(waiting, paper) + _labeled(texts.issued_label, issued, paper)


def _materials(ticket: TicketPrint, texts: TicketLayoutTexts, paper: Paper) -> list[Block]:
    """The materials checklist of the service item, when there is one."""
    if not ticket.materials:
        return []
    items = [_labeled(texts.material_bullet, item, paper) for item in ticket.materials]
    return _indented(texts.materials_title, paper) + [line for item in items for line in item]


def _reminders(ticket: TicketPrint, texts: TicketLayoutTexts, paper: Paper) -> list[Block]:
    """Reminder lines, then the QR code of the status page and its caption."""
    reminders = [line for text in texts.reminders for line in _indented(text, paper)]
    qr: list[Block] = (
        [Feed(SECTION_GAP_DOTS), QrCode(ticket.status_url)] if ticket.status_url else []
    )
    caption = _centered(texts.qr_caption, paper) if qr else []
    return reminders + qr + caption
