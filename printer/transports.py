"""One transport interface chosen by printer URL; every call off the event loop, bounded."""

from __future__ import annotations

from typing import Protocol

from printer.status import PrinterStatus
from printer.urls import PrinterAddress, parse_printer_url

# R9: a failed job must reach staff within 10 s of the press; 5 s leaves room
# for the server to record the failure and alert.
DEFAULT_TIMEOUT_S = 5.0


class Transport(Protocol):
    """What the server needs from a printer connection."""

    address: PrinterAddress

    async def send(self, data: bytes) -> PrinterStatus | None:
        """Send one job; return the status after it, or None when it cannot be read.

        Raises:
            PrinterError: a typed error within the transport's timeout.
        """
        ...

    async def status(self) -> PrinterStatus:
        """Read the printer's real-time status.

        Raises:
            PrinterError: a typed error within the transport's timeout;
                StatusUnsupported for write-only transports.
        """
        ...


def open_transport(url: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> Transport:
    """Make the transport for ``url``; no connection is made until a call.

    Args:
        url: ``tcp://host:9100``, ``usb://VID:PID``, ``serial:///dev/ttyS0?baudrate=9600``,
            ``file:///dev/usb/lp0`` or ``dummy://``; ``?status=off`` skips status checks.
        timeout_s: the deadline in seconds for each whole call (connect, status, send).

    Returns:
        The transport. Keep one per printer: a USB or serial transport whose driver
        got stuck refuses further jobs at once until the driver returns.

    Raises:
        PrinterConfigError: if the URL is malformed.
    """
    address = parse_printer_url(url)
    # Import only the chosen backend: the device one loads python-escpos and its drivers.
    if address.scheme == "tcp":
        from printer.tcp import TcpTransport

        return TcpTransport(address, timeout_s)
    from printer.devices import DeviceTransport, DummyTransport

    if address.scheme == "dummy":
        return DummyTransport(address)
    return DeviceTransport(address, timeout_s)


async def send(url: str, data: bytes, timeout_s: float = DEFAULT_TIMEOUT_S) -> PrinterStatus | None:
    """Send one job to the printer at ``url``; see :func:`open_transport` and ``Transport.send``."""
    return await open_transport(url, timeout_s).send(data)


async def query_status(url: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> PrinterStatus:
    """Read the status of the printer at ``url``; see ``Transport.status``."""
    return await open_transport(url, timeout_s).status()
