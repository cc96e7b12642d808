"""Drawing a ticket layout with Pillow, on the printer's own character grid."""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from functools import lru_cache

import qrcode
from PIL import Image, ImageDraw

from printer.compose import Block, QrCode, Rule, TextLine, TicketLayout
from printer.fonts import FontFace, face_for, load_font
from printer.layout import Paper
from printer.text import char_columns

CHAR_DOTS = 24  # a Hanzi is 24x24 dots at normal size, as in printer firmware fonts
LINE_DOTS = 30  # default ESC/POS line spacing: 24-dot characters plus 6 dots of leading
BOTTOM_DOTS = 24
INK = 0
PAPER = 255
# The font and glyph caches share FreeType faces, which are not thread-safe: the
# server may render from several worker threads, so one drawing at a time.
_DRAWING = threading.Lock()


@dataclass(frozen=True, slots=True)
class Drawing:
    """A drawn ticket: greyscale, white paper, black ink, antialiased."""

    image: Image.Image
    missing_glyphs: tuple[str, ...]


def qr_module_dots(paper: Paper) -> int:
    """QR module size in dots: about 25 mm wide for a status URL on either paper."""
    return 6 if paper.dots >= 576 else 5


def qr_image(data: str, module_dots: int) -> Image.Image:
    """Draw a QR code (error correction M, one-module quiet zone) as a greyscale image."""
    code = qrcode.QRCode(
        box_size=module_dots, border=1, error_correction=qrcode.constants.ERROR_CORRECT_M
    )
    code.add_data(data)
    code.make(fit=True)
    matrix = code.get_matrix()
    image = Image.new("L", (len(matrix), len(matrix)), PAPER)
    image.putdata([INK if dark else PAPER for row in matrix for dark in row])
    return image.resize((image.width * module_dots,) * 2, Image.Resampling.NEAREST)


def draw_layout(layout: TicketLayout, faces: tuple[FontFace, ...]) -> Drawing:
    """Draw ``layout`` as a full-width image, the way a Chinese-mode printer would print it.

    Args:
        layout: the composed ticket.
        faces: fonts from :func:`printer.fonts.resolve_fonts`, primary first.

    Returns:
        The image and the characters no font could draw (printed as .notdef boxes).
    """
    paper = layout.paper
    heights = [_height(block, paper) for block in layout.blocks]
    image = Image.new("L", (paper.dots, sum(heights) + BOTTOM_DOTS), PAPER)
    missing: list[str] = []
    with _DRAWING:
        for block, top in zip(layout.blocks, _tops(heights), strict=True):
            missing += _draw(image, block, top, paper, faces)
    return Drawing(image, tuple(dict.fromkeys(missing)))


def _tops(heights: list[int]) -> list[int]:
    """Top edge of each block."""
    return [sum(heights[:i]) for i in range(len(heights))]


def _height(block: Block, paper: Paper) -> int:
    """Dots of paper a block takes."""
    if isinstance(block, TextLine):
        return CHAR_DOTS * block.height + LINE_DOTS - CHAR_DOTS
    if isinstance(block, Rule):
        return LINE_DOTS
    if isinstance(block, QrCode):
        return qr_image(block.data, qr_module_dots(paper)).height
    return block.dots


def _draw(
    image: Image.Image, block: Block, top: int, paper: Paper, faces: tuple[FontFace, ...]
) -> list[str]:
    """Draw one block at ``top``; return the characters no font has."""
    if isinstance(block, Rule):
        block = TextLine("-" * paper.columns)
    if isinstance(block, TextLine):
        return _draw_line(image, block, top, paper, faces)
    if isinstance(block, QrCode):
        code = qr_image(block.data, qr_module_dots(paper))
        image.paste(code, ((paper.dots - code.width) // 2, top))
    return []


def _draw_line(
    image: Image.Image, line: TextLine, top: int, paper: Paper, faces: tuple[FontFace, ...]
) -> list[str]:
    """Draw a text line cell by cell: 12 dots per column, times the line's magnification."""
    cell = paper.cell_dots * line.width
    columns = [char_columns(ch) for ch in line.text]
    left = (paper.dots - sum(columns) * cell) // 2 if line.align == "center" else 0
    missing = []
    for ch, span, x in zip(line.text, columns, _offsets(columns, cell, left), strict=True):
        face = face_for(faces, ch)
        missing += [] if face else [ch]
        mask = glyph(face or faces[0], ch, span * cell, CHAR_DOTS * line.height, line.bold)
        image.paste(INK, (x, top), mask)
    return missing


def _offsets(columns: list[int], cell: int, left: int) -> list[int]:
    """Left edge of each character's cell."""
    return [left + sum(columns[:i]) * cell for i in range(len(columns))]


@lru_cache(maxsize=4096)
def glyph(face: FontFace, ch: str, width: int, height: int, bold: bool) -> Image.Image:
    """A character's mask filling a ``width`` x ``height`` cell.

    Drawn at the cell's height and squeezed when wider than the cell, like a
    printer's double-height characters; bold is a one-dot double strike, as in ESC E.
    """
    font = load_font(face, max(8, round(height * 0.92)))
    drawn = max(width, math.ceil(font.getlength(ch)) + 2)
    mask = Image.new("L", (drawn, height), 0)
    pen = ImageDraw.Draw(mask)
    for dx in (0, 1) if bold else (0,):
        pen.text((drawn / 2 + dx, height / 2), ch, fill=255, font=font, anchor="mm")
    return mask if drawn == width else mask.resize((width, height), Image.Resampling.LANCZOS)


def to_monochrome(image: Image.Image) -> Image.Image:
    """Threshold a drawing to the printer's 1-bit dots (no dithering: text stays crisp)."""
    return image.point(lambda value: 255 if value >= 128 else 0).convert(
        "1", dither=Image.Dither.NONE
    )
