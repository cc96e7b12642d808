"""Real-time printer status: ``DLE EOT n`` (n = 1..4) queries and their answers (pure)."""

from __future__ import annotations

from dataclasses import dataclass

from printer.errors import (
    CoverOpen,
    PaperOut,
    PrinterFault,
    PrinterNotReady,
    PrinterProtocolError,
)

DLE_EOT = b"\x10\x04"
# Printer status, offline cause, error cause, roll paper sensor: one byte each, in order.
STATUS_QUERY = b"".join(DLE_EOT + bytes([n]) for n in (1, 2, 3, 4))
STATUS_REPLY_LENGTH = 4

# Every DLE EOT answer has bit 1 and bit 4 set and bits 0 and 7 clear.
_FIXED_MASK, _FIXED_BITS = 0x93, 0x12
_OFFLINE = 0x08  # n=1 bit 3
_COVER_OPEN = 0x04  # n=2 bit 2
_PAPER_STOP = 0x20  # n=2 bit 5: printing stopped at paper end
_ERROR = 0x40  # n=2 bit 6
_ERROR_CAUSES = 0x68  # n=3 bits 3, 5, 6: autocutter, unrecoverable, auto-recoverable
_NEAR_END = 0x0C  # n=4 bits 2-3
_PAPER_END = 0x60  # n=4 bits 5-6


@dataclass(frozen=True, slots=True)
class PrinterStatus:
    """What the printer says about itself."""

    online: bool = True
    cover_open: bool = False
    paper_near_end: bool = False
    paper_out: bool = False
    error: bool = False

    @property
    def ready(self) -> bool:
        """Whether a job sent now would print (paper near end still prints)."""
        return self.online and not (self.cover_open or self.paper_out or self.error)


def decode_status(reply: bytes) -> PrinterStatus:
    """Decode the four answer bytes to :data:`STATUS_QUERY`.

    Args:
        reply: the answers to ``DLE EOT 1``, ``2``, ``3`` and ``4``, in that order.

    Returns:
        The decoded status.

    Raises:
        PrinterProtocolError: if the reply is not four valid status bytes.
    """
    if len(reply) != STATUS_REPLY_LENGTH or any(b & _FIXED_MASK != _FIXED_BITS for b in reply):
        raise PrinterProtocolError(
            f"Expected 4 DLE EOT status bytes of the form 0xx1x01x (binary), got {reply.hex(' ')}; "
            f"is this an ESC/POS printer, and is automatic status back (GS a) off?"
        )
    printer, offline, error, paper = reply
    return PrinterStatus(
        online=not printer & _OFFLINE,
        cover_open=bool(offline & _COVER_OPEN),
        paper_near_end=paper & _NEAR_END == _NEAR_END,
        paper_out=paper & _PAPER_END == _PAPER_END or bool(offline & _PAPER_STOP),
        error=bool(offline & _ERROR or error & _ERROR_CAUSES),
    )


def encode_status(status: PrinterStatus) -> bytes:
    """The four answer bytes a printer in ``status`` sends to :data:`STATUS_QUERY`.

    Used by the virtual printer; ``decode_status(encode_status(s)) == s``.
    """
    return bytes(
        (
            _FIXED_BITS | (0 if status.online else _OFFLINE),
            _FIXED_BITS
            | (_COVER_OPEN if status.cover_open else 0)
            | (_PAPER_STOP if status.paper_out else 0)
            | (_ERROR if status.error else 0),
            _FIXED_BITS | (0x20 if status.error else 0),
            _FIXED_BITS
            | (_NEAR_END if status.paper_near_end else 0)
            | (_PAPER_END if status.paper_out else 0),
        )
    )


def raise_unless_ready(status: PrinterStatus, where: str) -> None:
    """Raise the typed error for a printer that cannot print now.

    Args:
        status: the decoded status.
        where: the printer URL, for the message.

    Raises:
        PaperOut, CoverOpen, PrinterFault, PrinterNotReady: by the first cause found.
    """
    if status.paper_out:
        raise PaperOut(f"{where} is out of paper: load a new roll and close the cover", status)
    if status.cover_open:
        raise CoverOpen(f"{where} reports its cover open: close it", status)
    if status.error:
        raise PrinterFault(
            f"{where} reports an error (cutter jam, head too hot or a fault): "
            f"clear it and switch the printer off and on",
            status,
        )
    if not status.online:
        raise PrinterNotReady(f"{where} reports itself offline: press its online key", status)
