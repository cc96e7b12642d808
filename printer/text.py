"""Column widths, line wrapping and GB18030 checks for ticket text (pure functions)."""

from __future__ import annotations

import re
import unicodedata
from typing import Literal

FirmwareCharset = Literal["gb2312", "gbk"]

# Kinsoku (避头尾): these never start a line, and OPENERS never end one.
CLOSERS = frozenset("，。、；：？！）》」』】〕〉…·%,.;:?!)]}’”")
OPENERS = frozenset("（《「『【〔〈([{‘“")

_TOKEN = re.compile(r"[!-~]+| |[^ -~]")
_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs"})


def char_columns(ch: str) -> int:
    """Return the columns one character takes on a ticket line.

    East-Asian wide and fullwidth characters (``unicodedata.east_asian_width``
    W and F) take two columns. So does every other non-ASCII character: in
    Chinese mode a printer draws each GB18030 multi-byte code in a full
    24-dot cell (``é`` is GB2312 A8A6, ambiguous ``—`` is A1AA), and the
    raster path draws on the same grid so both modes share one layout.

    Args:
        ch: a single character, already passed through :func:`clean_text`.

    Returns:
        1 for printable ASCII, 2 otherwise.
    """
    return 1 if " " <= ch <= "~" else 2


def text_columns(text: str) -> int:
    """Return the columns ``text`` takes on a ticket line."""
    return sum(char_columns(ch) for ch in text)


def clean_text(text: str) -> str:
    """Normalise text for a ticket line.

    NFC-composes accents (one cell instead of two), turns tabs and line breaks
    into spaces, and drops control, format and lone surrogate characters,
    which printers would otherwise execute or print as boxes.

    Args:
        text: any string from configuration or the database.

    Returns:
        The printable string.
    """
    composed = unicodedata.normalize("NFC", text)
    spaced = "".join(" " if ch.isspace() and ch.isascii() else ch for ch in composed)
    return "".join(ch for ch in spaced if unicodedata.category(ch) not in _DROPPED_CATEGORIES)


def wrap(text: str, width: int) -> list[str]:
    """Wrap ``text`` into lines of at most ``width`` columns.

    Breaks between CJK characters, at spaces and inside over-long ASCII words;
    keeps closing punctuation off the start of a line and opening punctuation
    off its end when the line has room to give; drops spaces at line breaks.

    Args:
        text: the text, already passed through :func:`clean_text`.
        width: the line width in columns, at least 2 (one full-width character).

    Returns:
        The lines, none wider than ``width``; ``[""]`` for empty text.

    Raises:
        ValueError: if ``width`` is below 2.
    """
    if width < 2:
        raise ValueError(f"Expected a line width of at least 2 columns, got {width}")
    lines: list[list[str]] = [[]]
    for piece in _tokens(text, width):
        _place(lines, piece, width)
    return ["".join(line).rstrip(" ") for line in lines]


def _tokens(text: str, width: int) -> list[str]:
    """Split text into unbreakable pieces: ASCII words (cut to ``width``), spaces, characters."""
    pieces = _TOKEN.findall(text)
    return [word[i : i + width] for word in pieces for i in range(0, len(word), width)]


def _place(lines: list[list[str]], piece: str, width: int) -> None:
    """Append ``piece`` to the last line, or start a new line for it."""
    line = lines[-1]
    if piece == " " and not line and len(lines) > 1:
        return  # a line break already stands for this space
    if text_columns("".join(line)) + text_columns(piece) <= width:
        line.append(piece)
    elif piece != " ":
        lines.append([*_carry_over(line, piece, width), piece])


def _carry_over(line: list[str], piece: str, width: int) -> list[str]:
    """Take pieces off the end of ``line`` that must move to the next line with ``piece``.

    A closing mark pulls the character before it along; an opening mark at the
    end of the line moves down. Only when what moves still fits a line.
    """
    moved: list[str] = []
    if piece[0] in CLOSERS and len(line) > 1 and line[-1][-1] not in CLOSERS | {" "}:
        moved.insert(0, line.pop())
    if len(line) > 1 and line[-1][-1] in OPENERS:
        moved.insert(0, line.pop())
    if text_columns("".join([*moved, piece])) > width:
        line.extend(moved)
        return []
    return moved


def wrap_labeled(label: str, value: str, width: int, margin: int = 2) -> list[str]:
    """Wrap ``label + value`` with a hanging indent under the value.

    Args:
        label: the label, e.g. ``"业务："``.
        value: the value that may wrap.
        width: the line width in columns.
        margin: spaces before the label.

    Returns:
        Lines whose continuation lines start under the value's first character,
        or under the label when a hanging indent would leave less than half the line.
    """
    indent = margin + text_columns(label)
    if indent * 2 > width:
        return [" " * margin + line for line in wrap(label + value, width - margin)]
    chunks = wrap(value, width - indent)
    return [" " * margin + label + chunks[0]] + [" " * indent + chunk for chunk in chunks[1:]]


def gb18030(text: str) -> bytes:
    """Encode text as GB18030, the encoding of Chinese-mode (``FS &``) printers."""
    return text.encode("gb18030")


def glyph_risk(text: str, charset: FirmwareCharset = "gbk") -> list[str]:
    """List the characters a printer's firmware font probably lacks, in order, once each.

    Chinese-market printers carry a GB2312 or GBK font; GB18030's four-byte range
    (e.g. 𠀀 U+20000) and its two-byte additions beyond GBK (e.g. 䶮 FE9F) print
    as blanks or boxes.

    Args:
        text: the ticket text.
        charset: the largest character set the printer's font covers.

    Returns:
        The non-ASCII characters that ``charset`` cannot encode.
    """
    risky = (ch for ch in text if not ch.isascii() and not _encodable(ch, charset))
    return list(dict.fromkeys(risky))


def _encodable(ch: str, charset: FirmwareCharset) -> bool:
    """Tell whether ``charset`` has a code for ``ch``."""
    try:
        ch.encode(charset)
    except UnicodeEncodeError:
        return False
    return True
