"""Transports chosen by URL, typed errors within the deadline, and R9 at transport level."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from printer.devices import DummyTransport
from printer.errors import (
    PaperOut,
    PrinterConfigError,
    PrinterError,
    PrinterOffline,
    PrinterRefused,
    PrinterTimeout,
    StatusUnsupported,
)
from printer.status import PrinterStatus
from printer.transports import open_transport, query_status, send
from printer.urls import PrinterAddress, parse_printer_url
from printer.virtual import VirtualPrinter, VirtualState

TIMEOUT_S = 1.0
# A blocking call would stall the loop for the whole TIMEOUT_S; allow for a loaded CI machine.
MAX_LOOP_GAP_S = 0.25
WithTicker = Callable[[Awaitable[Any]], Awaitable[tuple[Any, "asyncio.Future[Any]"]]]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("tcp://10.0.0.5", PrinterAddress("tcp://10.0.0.5", "tcp", "10.0.0.5", 9100)),
        (
            "tcp://[::1]:4242?status=off",
            PrinterAddress("tcp://[::1]:4242?status=off", "tcp", "::1", 4242, check_status=False),
        ),
        (
            "usb://0416:5011?in_ep=0x81",
            PrinterAddress(
                "usb://0416:5011?in_ep=0x81", "usb", vendor_id=0x0416, product_id=0x5011, in_ep=0x81
            ),
        ),
        (
            "serial:///dev/ttyS0?baudrate=19200",
            PrinterAddress(
                "serial:///dev/ttyS0?baudrate=19200", "serial", path="/dev/ttyS0", baudrate=19200
            ),
        ),
        (
            "file:///dev/usb/lp0",
            PrinterAddress("file:///dev/usb/lp0", "file", path="/dev/usb/lp0", check_status=False),
        ),
        ("dummy://", PrinterAddress("dummy://", "dummy")),
    ],
)
def test_parse_printer_urls(url: str, expected: PrinterAddress) -> None:
    """Each documented URL form parses to its address and options."""
    assert parse_printer_url(url) == expected


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("lpt://1", "Expected a printer URL like tcp://"),
        ("tcp://", "expected tcp://HOST:PORT"),
        ("usb://zz:01", "malformed"),
        ("serial:///dev/ttyS0?baud=9600", r"unknown options \['baud'\]"),
        ("file://lp0", "expected file:///dev/usb/lpN"),
    ],
)
def test_bad_urls_are_config_errors(url: str, message: str) -> None:
    """A malformed URL or a misspelt option is a PrinterConfigError saying what was expected."""
    with pytest.raises(PrinterConfigError, match=message):
        parse_printer_url(url)


async def test_tcp_send_returns_the_status_after_the_job(virtual_printer: VirtualPrinter) -> None:
    """A healthy printer takes the job and reports its status after it."""
    assert await send(virtual_printer.url, b"\x1b@A001\n") == PrinterStatus()
    assert (await virtual_printer.next_job()).text == "A001\n"


async def test_tcp_status_reads_paper_near_end(virtual_printer: VirtualPrinter) -> None:
    """query_status decodes what the printer answers to DLE EOT 1-4."""
    await virtual_printer.set_state("paper_near_end")
    assert await query_status(virtual_printer.url) == PrinterStatus(paper_near_end=True)


@pytest.mark.parametrize(
    ("state", "error"),
    [("paper_out", PaperOut), ("refuse", PrinterRefused), ("hang", PrinterTimeout)],
)
async def test_r9_failing_printers_give_typed_errors_without_blocking_the_loop(
    virtual_printer: VirtualPrinter,
    with_ticker: WithTicker,
    state: VirtualState,
    error: type[PrinterError],
) -> None:
    """R9: out of paper, refusing, and accepting-but-silent printers each raise their typed
    error within the timeout while a 10 ms ticker keeps running, and nothing is printed."""
    await virtual_printer.set_state(state)
    started = time.monotonic()
    ticker, outcome = await with_ticker(send(virtual_printer.url, b"\x1b@A001\n", TIMEOUT_S))
    assert isinstance(outcome.exception(), error)
    assert time.monotonic() - started <= TIMEOUT_S + 0.5
    assert ticker.longest_gap() < MAX_LOOP_GAP_S
    assert virtual_printer.jobs == []


async def test_r9_sequence_then_recovery(virtual_printer: VirtualPrinter) -> None:
    """R9's sequence on one printer: paper out, refusing, silent, then back to printing."""
    expected = {"paper_out": PaperOut, "refuse": PrinterRefused, "hang": PrinterTimeout}
    for state, error in expected.items():
        await virtual_printer.set_state(state)  # type: ignore[arg-type]
        with pytest.raises(error):
            await send(virtual_printer.url, b"A001\n", TIMEOUT_S)
    await virtual_printer.set_state("ok")
    await send(virtual_printer.url, b"A001\n", TIMEOUT_S)
    assert (await virtual_printer.next_job()).text == "A001\n"


async def test_status_off_skips_the_check(virtual_printer: VirtualPrinter) -> None:
    """With ?status=off a printer that never answers DLE EOT still gets the job."""
    await virtual_printer.set_state("hang")
    assert await send(f"{virtual_printer.url}?status=off", b"A001\n", TIMEOUT_S) is None


async def test_dummy_transport_keeps_jobs() -> None:
    """dummy:// records each job and is always ready."""
    transport = open_transport("dummy://")
    assert isinstance(transport, DummyTransport)
    assert await transport.send(b"job") == PrinterStatus()
    assert transport.jobs == [b"job"]


async def test_file_transport_writes_the_job(tmp_path: Path) -> None:
    """file:// writes the job through python-escpos's File class and cannot read status."""
    device = tmp_path / "lp0"
    transport = open_transport(f"file://{device}")
    assert await transport.send(b"\x1b@A001\n") is None
    assert device.read_bytes() == b"\x1b@A001\n"
    with pytest.raises(StatusUnsupported):
        await transport.status()


async def test_wedged_device_times_out_without_blocking_the_loop(
    tmp_path: Path, with_ticker: WithTicker
) -> None:
    """A device whose driver blocks (a FIFO nobody reads, like a wedged /dev/usb/lp0) gives
    PrinterTimeout within the deadline, the loop keeps ticking, and the next job fails fast."""
    fifo = tmp_path / "lp0"
    os.mkfifo(fifo)
    transport = open_transport(f"file://{fifo}", TIMEOUT_S)
    ticker, outcome = await with_ticker(transport.send(b"A001\n"))
    assert isinstance(outcome.exception(), PrinterTimeout)
    assert ticker.longest_gap() < MAX_LOOP_GAP_S
    started = time.monotonic()
    with pytest.raises(PrinterTimeout, match="still stuck"):
        await transport.send(b"A002\n")
    assert time.monotonic() - started < 0.1
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # let the stuck thread finish
    await asyncio.sleep(0.2)
    os.close(reader)


@pytest.mark.parametrize("url", ["serial:///dev/hallq-no-such-tty", "usb://ffff:fffe"])
async def test_missing_devices_are_offline(url: str) -> None:
    """A serial port or USB printer that is not there is PrinterOffline, not a driver error."""
    with pytest.raises(PrinterOffline, match="cannot be used"):
        await send(url, b"A001\n", TIMEOUT_S)
