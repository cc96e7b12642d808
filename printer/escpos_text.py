"""ESC/POS bytes for a ticket in text mode: Chinese via ``FS &`` and GB18030, sizes via ``GS !``."""

# python-escpos builds the parts it gets right (QR, image, cut, per profile) on a
# Dummy printer. The text path is ours: python-escpos 3.1 sends CJK as GB18030
# without FS &, turns full-width punctuation alone on a line into "?" and wraps by
# character count. Style commands are ours too: its set() resends every attribute.

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

from PIL import Image

from printer.compose import Align, Block, Feed, QrCode, Rule, TextLine, TicketLayout
from printer.errors import PrinterConfigError
from printer.layout import Paper
from printer.raster import PAPER, qr_image, qr_module_dots
from printer.text import gb18030

QrMode = Literal["auto", "native", "image"]

ESC, GS, FS = b"\x1b", b"\x1d", b"\x1c"
INIT = ESC + b"@"
CHINESE_ON = FS + b"&"
CHINESE_OFF = FS + b"."
LF = b"\n"
_ALIGN_CODES: dict[Align, bytes] = {"left": b"\x00", "center": b"\x01"}


@dataclass(frozen=True, slots=True)
class PrintState:
    """What the printer is set to, so commands are sent only when something changes."""

    align: Align = "left"
    width: int = 1
    height: int = 1
    bold: bool = False
    chinese: bool = False


def state_commands(old: PrintState, new: PrintState) -> bytes:
    """The commands that take the printer from ``old`` to ``new``."""
    commands = [
        ESC + b"a" + _ALIGN_CODES[new.align] if new.align != old.align else b"",
        ESC + b"E" + bytes([new.bold]) if new.bold != old.bold else b"",
        _size(new) if (new.width, new.height) != (old.width, old.height) else b"",
        (CHINESE_ON if new.chinese else CHINESE_OFF) if new.chinese != old.chinese else b"",
    ]
    return b"".join(commands)


def _size(state: PrintState) -> bytes:
    """``GS ! n``: width magnification in the high nibble, height in the low one."""
    return GS + b"!" + bytes([(state.width - 1) << 4 | (state.height - 1)])


def line_bytes(line: TextLine, state: PrintState) -> tuple[bytes, PrintState]:
    """One text line and the state after it.

    Chinese mode is switched on for the first non-ASCII line and stays on:
    ASCII prints the same in it, and fewer toggles mean fewer chances for a
    printer to get out of step.
    """
    chinese = state.chinese or not line.text.isascii()
    new = PrintState(line.align, line.width, line.height, line.bold, chinese)
    text = gb18030(line.text) if chinese else line.text.encode("ascii")
    return state_commands(state, new) + text + LF, new


def text_mode_bytes(layout: TicketLayout, profile: str, qr: QrMode = "auto") -> bytes:
    """Render a layout as Chinese-mode ESC/POS text.

    Args:
        layout: the composed ticket.
        profile: python-escpos profile name; decides native QR (``auto``) and the cut.
        qr: ``native`` for ``GS ( k``, ``image`` for a raster QR, ``auto`` by profile.

    Returns:
        The job's bytes: ``ESC @``, ``FS .``, the lines, the QR code, feed and cut.
    """
    printer = dummy_printer(profile)
    native = qr == "native" or (qr == "auto" and bool(printer.profile.supports("qrCode")))
    printer._raw(INIT + CHINESE_OFF)
    state = PrintState()
    for block in layout.blocks:
        state = _emit(printer, block, state, layout.paper, native)
    printer._raw(state_commands(state, PrintState()))
    printer.cut()
    return bytes(printer.output)


def dummy_printer(profile: str) -> Any:
    """A python-escpos ``Dummy`` printer with ``profile``, collecting bytes in memory.

    Raises:
        PrinterConfigError: if python-escpos has no such profile.
    """
    # python-escpos's capabilities module calls logging.basicConfig() and mkdtemp()
    # at import: import it only when a ticket is rendered, never at package import.
    from escpos.printer import Dummy

    try:
        return Dummy(profile=profile)
    except KeyError:
        raise PrinterConfigError(
            f"python-escpos has no printer profile {profile!r}; use one of `python-escpos "
            f"printer profiles`, e.g. KR-306 (80 mm) or POS-5890 (58 mm)"
        ) from None


def _emit(printer: Any, block: Block, state: PrintState, paper: Paper, native: bool) -> PrintState:
    """Send one block to the Dummy printer; return the printer state after it."""
    if isinstance(block, Rule):
        block = TextLine("-" * paper.columns)
    if isinstance(block, TextLine):
        data, state = line_bytes(block, state)
        printer._raw(data)
    elif isinstance(block, Feed):
        printer._raw(ESC + b"J" + bytes([min(block.dots, 255)]))
    elif native:
        state = _native_qr(printer, block, state, paper)
    else:
        state = _image_qr(printer, block, state, paper)
    return state


def _native_qr(printer: Any, block: QrCode, state: PrintState, paper: Paper) -> PrintState:
    """``GS ( k`` QR code, centred by ``ESC a 1``, error correction M."""
    from escpos.constants import QR_ECLEVEL_M

    centred = replace(state, align="center")
    printer._raw(state_commands(state, centred))
    printer.qr(block.data, ec=QR_ECLEVEL_M, size=qr_module_dots(paper), native=True)
    return centred


def _image_qr(printer: Any, block: QrCode, state: PrintState, paper: Paper) -> PrintState:
    """QR code drawn by us and sent as a ``GS v 0`` image for printers without ``GS ( k``.

    Centred inside a full-width image: cheap printers ignore ``ESC a`` for images.
    """
    left = replace(state, align="left")
    code = qr_image(block.data, qr_module_dots(paper))
    row = Image.new("L", (paper.dots, code.height), PAPER)
    row.paste(code, ((paper.dots - code.width) // 2, 0))
    printer._raw(state_commands(state, left))
    printer.image(row, impl="bitImageRaster")
    return left
