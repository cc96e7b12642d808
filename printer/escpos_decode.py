"""Decoding an ESC/POS byte stream the way a Chinese-mode printer reads it (Sans-I/O)."""

# Bytes in; text, images, QR codes and the DLE EOT queries to answer out. The
# virtual printer puts this on a socket. It knows the commands hallq and
# python-escpos send and skips other ESC/GS/FS commands by their usual lengths,
# recording them as unknown.

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from PIL import Image, ImageOps

ESC, FS, GS, DLE = 0x1B, 0x1C, 0x1D, 0x10
# Total lengths of fixed-length commands, by (prefix, command byte).
_FIXED = {
    **{(ESC, ord(c)): 3 for c in "!-3EGJMRVadt{ "},
    **{(ESC, ord(c)): 2 for c in "@2<"},
    (ESC, ord("p")): 5,
    **{(GS, ord(c)): 3 for c in "!BHIabfhrw"},
    **{(GS, ord(c)): 4 for c in "LWP"},
    **{(FS, ord(c)): 2 for c in "&."},
    **{(FS, ord(c)): 3 for c in "!-CW"},
    (FS, ord("S")): 4,
    (DLE, 0x04): 3,
    (DLE, 0x05): 3,
    (DLE, 0x14): 5,
}
NEED_MORE = 0


@dataclass(slots=True)
class DecodedJob:
    """What a job printed so far."""

    text: list[str] = field(default_factory=list)
    images: list[Image.Image] = field(default_factory=list)
    qr_codes: list[str] = field(default_factory=list)
    cuts: int = 0
    unknown_commands: list[bytes] = field(default_factory=list)
    print_bytes: int = 0


class EscPosDecoder:
    """Incremental decoder: feed it bytes as they arrive, in any chunks."""

    def __init__(self) -> None:
        self.job = DecodedJob()
        self.chinese = False  # off until FS &: a job that forgets FS & decodes as U+FFFD
        self._buffer = bytearray()
        self._qr_data = b""
        self._image_ends_at = -1  # buffer offset right after the last GS v 0, for stitching
        self._consumed = 0

    @property
    def text(self) -> str:
        """The text printed so far."""
        return "".join(self.job.text)

    def feed(self, data: bytes) -> list[int]:
        """Decode ``data``; return the ``n`` of every ``DLE EOT n`` in it, in order."""
        self._buffer += data
        queries: list[int] = []
        pos = 0
        while pos < len(self._buffer):
            used = self._step(pos, queries)
            if used == NEED_MORE:
                break
            pos += used
        del self._buffer[:pos]
        self._consumed += pos
        return queries

    def _step(self, pos: int, queries: list[int]) -> int:
        """Decode one command or character at ``pos``; return its length, or NEED_MORE."""
        first = self._buffer[pos]
        if first in (ESC, GS, FS, DLE):
            return self._command(pos, queries)
        self.job.print_bytes += 1
        if first == 0x0A:
            self.job.text.append("\n")
            return 1
        if first < 0x20:
            return 1  # CR and other control bytes print nothing
        return self._character(pos)

    def _character(self, pos: int) -> int:
        """One character: GB18030 (1, 2 or 4 bytes) in Chinese mode, ASCII outside it."""
        length = self._char_length(pos)
        if pos + length > len(self._buffer):
            return NEED_MORE
        raw = bytes(self._buffer[pos : pos + length])
        self.job.text.append(raw.decode("gb18030" if self.chinese else "ascii", "replace"))
        return length

    def _char_length(self, pos: int) -> int:
        """Bytes in the character at ``pos``; a GB18030 lead byte's next byte tells 2 or 4."""
        first = self._buffer[pos]
        if not (self.chinese and 0x81 <= first <= 0xFE):
            return 1
        if pos + 1 >= len(self._buffer):
            return 2  # at least: _character waits for more
        return 4 if 0x30 <= self._buffer[pos + 1] <= 0x39 else 2

    def _command(self, pos: int, queries: list[int]) -> int:
        """A command starting with ESC, GS, FS or DLE."""
        if pos + 2 > len(self._buffer):
            return NEED_MORE
        key = (self._buffer[pos], self._buffer[pos + 1])
        length = _FIXED.get(key) or self._variable_length(pos, key)
        if length == NEED_MORE or pos + length > len(self._buffer):
            return NEED_MORE
        command = bytes(self._buffer[pos : pos + length])
        self._apply(command, queries, self._consumed + pos)
        return length

    def _variable_length(self, pos: int, key: tuple[int, int]) -> int:
        """Length of GS ( k / GS ( L / GS v 0 / GS V / GS k; 2 for unknown commands."""
        lengths: dict[tuple[int, int], Callable[[int], int]] = {
            (GS, ord("(")): lambda p: self._word(p + 3, 5),
            (GS, ord("v")): self._raster_length,
            (GS, ord("V")): lambda p: self._byte(p + 2, lambda m: 3 if m in (0, 1, 48, 49) else 4),
            (GS, ord("k")): self._barcode_length,
        }
        measure = lengths.get(key)
        return measure(pos) if measure else 2

    def _byte(self, index: int, length: Callable[[int], int]) -> int:
        """``length(byte at index)``, or NEED_MORE if it has not arrived."""
        return length(self._buffer[index]) if index < len(self._buffer) else NEED_MORE

    def _word(self, index: int, header: int) -> int:
        """``header`` + the little-endian 16-bit count at ``index``."""
        if index + 2 > len(self._buffer):
            return NEED_MORE
        return header + self._buffer[index] + 256 * self._buffer[index + 1]

    def _raster_length(self, pos: int) -> int:
        """``GS v 0 m xL xH yL yH`` + (xL + 256 xH) * (yL + 256 yH) bytes."""
        if pos + 8 > len(self._buffer):
            return NEED_MORE
        width = self._buffer[pos + 4] + 256 * self._buffer[pos + 5]
        return 8 + width * (self._buffer[pos + 6] + 256 * self._buffer[pos + 7])

    def _barcode_length(self, pos: int) -> int:
        """``GS k m``: NUL-terminated data for m <= 6, else ``n`` data bytes."""
        if pos + 4 > len(self._buffer):
            return NEED_MORE
        if self._buffer[pos + 2] > 6:
            return 4 + self._buffer[pos + 3]
        end = self._buffer.find(b"\x00", pos + 3)
        return NEED_MORE if end < 0 else end + 1 - pos

    def _apply(self, command: bytes, queries: list[int], offset: int) -> None:
        """Act on a complete command."""
        if command[:2] == b"\x10\x04":
            queries.append(command[2])
            return
        self.job.print_bytes += len(command)
        handlers: dict[bytes, Callable[[bytes, int], None]] = {
            b"\x1c&": lambda c, o: setattr(self, "chinese", True),
            b"\x1c.": lambda c, o: setattr(self, "chinese", False),
            b"\x1dv": self._raster,
            b"\x1d(": self._two_d_code,
            b"\x1dV": self._cut,
        }
        handler = handlers.get(command[:2])
        if handler:
            handler(command, offset)
        elif (command[0], command[1]) not in _FIXED:
            self.job.unknown_commands.append(command)

    def _cut(self, command: bytes, offset: int) -> None:
        """GS V: one cut."""
        self.job.cuts += 1

    def _two_d_code(self, command: bytes, offset: int) -> None:
        """GS ( k QR: store (fn 80) then print (fn 81); other 2D and graphics ignored."""
        if command[2:3] != b"k" or command[5:6] != b"1":
            return
        if command[6:7] == b"P":
            self._qr_data = command[8:]
        elif command[6:7] == b"Q":
            self.job.qr_codes.append(self._qr_data.decode("utf-8", "replace"))

    def _raster(self, command: bytes, offset: int) -> None:
        """GS v 0: a raster image; consecutive ones are one picture in fragments."""
        width = (command[4] + 256 * command[5]) * 8
        height = command[6] + 256 * command[7]
        if not width or not height:
            return
        dots = Image.frombytes("1", (width, height), command[8:])
        image = ImageOps.invert(dots.convert("L"))  # ESC/POS bit 1 = black, Pillow's = white
        previous = self.job.images[-1] if self.job.images else None
        if previous is not None and offset == self._image_ends_at and previous.width == width:
            image = _stack(previous, image)
            self.job.images.pop()
        self.job.images.append(image)
        self._image_ends_at = offset + len(command)


def _stack(top: Image.Image, bottom: Image.Image) -> Image.Image:
    """One image above the other."""
    both = Image.new("L", (top.width, top.height + bottom.height), 255)
    both.paste(top, (0, 0))
    both.paste(bottom, (0, top.height))
    return both
