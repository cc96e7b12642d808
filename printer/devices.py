"""The ``usb://``, ``serial://``, ``file://`` and ``dummy://`` transports, via python-escpos."""

# python-escpos's device classes block, so every call runs in its own daemon thread
# under a deadline. Daemon threads rather than asyncio.to_thread: a write to a
# wedged /dev/usb/lp0 can block forever, and a stuck worker of the default
# executor would hold up interpreter shutdown (executors join their threads at exit).

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from printer.errors import (
    PrinterError,
    PrinterOffline,
    PrinterTimeout,
    StatusUnsupported,
)
from printer.status import (
    STATUS_QUERY,
    STATUS_REPLY_LENGTH,
    PrinterStatus,
    decode_status,
    raise_unless_ready,
)
from printer.urls import PrinterAddress

T = TypeVar("T")


class BlockingRunner:
    """Runs blocking calls one at a time in daemon threads, each under a deadline."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._worker: threading.Thread | None = None

    async def run(self, call: Callable[[], T], timeout_s: float) -> T:
        """Run ``call`` off the event loop; raise PrinterTimeout after ``timeout_s`` seconds.

        A call that timed out keeps its thread until the driver returns; until then
        further calls fail at once instead of piling threads onto a wedged device.
        """
        if self._worker is not None and self._worker.is_alive():
            raise PrinterTimeout(f"{self.name}: the previous job is still stuck in the driver")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._worker = threading.Thread(
            target=_deliver, args=(loop, future, call), name=f"printer {self.name}", daemon=True
        )
        self._worker.start()
        try:
            return await asyncio.wait_for(future, timeout_s)
        except TimeoutError:
            raise PrinterTimeout(f"{self.name} gave no answer within {timeout_s:g} s") from None


def _deliver(
    loop: asyncio.AbstractEventLoop, future: asyncio.Future[T], call: Callable[[], T]
) -> None:
    """Thread body: run ``call`` and hand its outcome to the loop, if anyone still waits."""
    try:
        outcome: tuple[bool, Any] = (True, call())
    except Exception as exc:  # noqa: BLE001 - handed to the awaiting coroutine, not lost
        outcome = (False, exc)
    # RuntimeError: the loop closed while the driver was stuck, so nobody waits any more.
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(_settle, future, outcome)


def _settle(future: asyncio.Future[T], outcome: tuple[bool, Any]) -> None:
    """Set the future's result or exception unless it was cancelled (timed out)."""
    if future.done():
        return
    ok, value = outcome
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)


class DeviceTransport:
    """A printer reached through a python-escpos device class (USB, serial port, device file)."""

    def __init__(self, address: PrinterAddress, timeout_s: float) -> None:
        self.address = address
        self.timeout_s = timeout_s
        self._runner = BlockingRunner(address.url)

    async def send(self, data: bytes) -> PrinterStatus | None:
        """Send one job; with a readable device, check its status before and after."""
        return await self._runner.run(lambda: self._guarded(self._send, data), self.timeout_s)

    async def status(self) -> PrinterStatus:
        """Ask the printer for its real-time status (DLE EOT 1–4)."""
        if not self.address.bidirectional:
            raise StatusUnsupported(
                f"{self.address.url} is a device file and can only be written; "
                f"use usb:// or tcp:// to read the printer's status"
            )
        return await self._runner.run(lambda: self._guarded(self._status, b""), self.timeout_s)

    def _guarded(self, work: Callable[[Any, bytes], T], data: bytes) -> T:
        """Open the device, run ``work``, close it; translate the drivers' exceptions."""
        try:
            printer = _open(self.address, self.timeout_s)
            try:
                return work(printer, data)
            finally:
                printer.close()
        except PrinterError:
            raise
        except Exception as exc:  # every driver error becomes a typed one
            raise translate_driver_error(self.address.url, exc) from exc

    def _send(self, printer: Any, data: bytes) -> PrinterStatus | None:
        """Blocking job: status, bytes, status."""
        check = self.address.check_status and self.address.bidirectional
        if check:
            raise_unless_ready(self._status(printer, b""), self.address.url)
        printer._raw(data)
        if not check:
            return None
        status = self._status(printer, b"")
        raise_unless_ready(status, self.address.url)
        return status

    def _status(self, printer: Any, _data: bytes) -> PrinterStatus:
        """Blocking DLE EOT 1–4 query; reads until four bytes come or the deadline passes."""
        printer._raw(STATUS_QUERY)
        reply = b""
        deadline = time.monotonic() + self.timeout_s
        while len(reply) < STATUS_REPLY_LENGTH and time.monotonic() < deadline:
            reply += bytes(printer._read() or b"")
        if len(reply) < STATUS_REPLY_LENGTH:
            raise PrinterTimeout(f"{self.address.url} did not answer its status query")
        return decode_status(reply[:STATUS_REPLY_LENGTH])


def _open(address: PrinterAddress, timeout_s: float) -> Any:
    """Build and open the python-escpos device for ``address``."""
    from escpos import printer as devices  # at use: see printer.escpos_text

    if address.scheme == "usb":
        device: Any = devices.Usb(
            address.vendor_id,
            address.product_id,
            timeout=int(timeout_s * 1000),
            in_ep=address.in_ep,
            out_ep=address.out_ep,
        )
    elif address.scheme == "serial":
        device = devices.Serial(address.path, baudrate=address.baudrate, timeout=min(timeout_s, 1))
    else:
        device = devices.File(address.path)
    device.open()
    return device


def translate_driver_error(url: str, exc: Exception) -> PrinterError:
    """Map python-escpos, pyusb, pyserial and OS errors into the printer error tree."""
    # By name: pyusb's USBTimeoutError and pyserial's SerialTimeoutException,
    # without importing both drivers to test for one.
    name = type(exc).__name__
    if "Timeout" in name or isinstance(exc, TimeoutError):
        return PrinterTimeout(f"{url} timed out in the driver: {exc}")
    if name == "NoBackendError":  # pyusb found no libusb on this machine
        return PrinterOffline(
            f"{url} cannot be used: pyusb has no USB backend; install the Debian package "
            f"libusb-1.0-0"
        )
    return PrinterOffline(
        f"{url} cannot be used ({name}: {exc}); check that the printer is plugged in "
        f"and switched on, and that this user may open the device"
    )


class DummyTransport:
    """``dummy://``: keeps every job in memory and is always ready."""

    def __init__(self, address: PrinterAddress) -> None:
        self.address = address
        self.jobs: list[bytes] = []

    async def send(self, data: bytes) -> PrinterStatus | None:
        """Keep the job."""
        self.jobs.append(data)
        return PrinterStatus()

    async def status(self) -> PrinterStatus:
        """Always ready."""
        return PrinterStatus()
