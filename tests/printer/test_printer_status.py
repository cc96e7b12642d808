"""DLE EOT status decoding (printer/status.py)."""

from __future__ import annotations

import itertools

import pytest

from printer.errors import (
    CoverOpen,
    PaperOut,
    PrinterFault,
    PrinterNotReady,
    PrinterProtocolError,
)
from printer.status import (
    STATUS_QUERY,
    PrinterStatus,
    decode_status,
    encode_status,
    raise_unless_ready,
)


def test_query_asks_for_all_four_statuses() -> None:
    """The query is DLE EOT 1, 2, 3 and 4."""
    assert bytes.fromhex("10 04 01 10 04 02 10 04 03 10 04 04") == STATUS_QUERY


@pytest.mark.parametrize(
    ("reply", "status"),
    [
        ("12 12 12 12", PrinterStatus()),
        ("12 12 12 1e", PrinterStatus(paper_near_end=True)),
        ("1a 32 12 7e", PrinterStatus(online=False, paper_near_end=True, paper_out=True)),
        ("1a 16 12 12", PrinterStatus(online=False, cover_open=True)),
        ("1a 52 1a 12", PrinterStatus(online=False, error=True)),
        ("12 12 12 72", PrinterStatus(paper_out=True)),
        ("16 12 12 12", PrinterStatus()),  # drawer pin high: not our business
    ],
)
def test_decode_known_replies(reply: str, status: PrinterStatus) -> None:
    """Replies from the Epson/Citizen/Bixolon tables decode to the expected flags."""
    assert decode_status(bytes.fromhex(reply)) == status


@pytest.mark.parametrize("flags", list(itertools.product([False, True], repeat=5)))
def test_encode_then_decode_is_identity(flags: tuple[bool, ...]) -> None:
    """Every combination of flags survives encoding (virtual printer) and decoding (client)."""
    status = PrinterStatus(*flags)
    assert decode_status(encode_status(status)) == status


@pytest.mark.parametrize("reply", ["", "12 12 12", "12 12 12 12 12", "00 12 12 12", "12 12 93 12"])
def test_malformed_replies_are_protocol_errors(reply: str) -> None:
    """Wrong length or wrong fixed bits mean the answer is not DLE EOT status."""
    with pytest.raises(PrinterProtocolError, match="Expected 4 DLE EOT status bytes"):
        decode_status(bytes.fromhex(reply))


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (PrinterStatus(online=False, paper_out=True, cover_open=True), PaperOut),
        (PrinterStatus(online=False, cover_open=True), CoverOpen),
        (PrinterStatus(online=False, error=True), PrinterFault),
        (PrinterStatus(online=False), PrinterNotReady),
    ],
)
def test_not_ready_raises_the_most_specific_error(
    status: PrinterStatus, error: type[PrinterNotReady]
) -> None:
    """Paper out wins over cover open, which wins over a fault, which wins over offline."""
    with pytest.raises(error) as caught:
        raise_unless_ready(status, "tcp://printer:9100")
    assert type(caught.value) is error
    assert caught.value.status == status


def test_paper_near_end_still_prints() -> None:
    """Paper near end is a warning for staff, not a reason to refuse a ticket."""
    raise_unless_ready(PrinterStatus(paper_near_end=True), "tcp://printer:9100")
    assert PrinterStatus(paper_near_end=True).ready
