"""Printer URLs: tcp://, usb://, serial://, file://, dummy:// (pure parsing)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, cast, get_args
from urllib.parse import parse_qsl, urlsplit

from printer.errors import PrinterConfigError

Scheme = Literal["tcp", "usb", "serial", "file", "dummy"]

DEFAULT_TCP_PORT = 9100
EXAMPLES = (
    "tcp://192.168.1.50:9100, usb://0416:5011, serial:///dev/ttyS0?baudrate=9600, "
    "file:///dev/usb/lp0, dummy://"
)
# Query options per scheme; ``status=off`` is for printers that never answer DLE EOT.
_OPTIONS: dict[Scheme, frozenset[str]] = {
    "tcp": frozenset({"status"}),
    "usb": frozenset({"status", "in_ep", "out_ep"}),
    "serial": frozenset({"status", "baudrate"}),
    "file": frozenset(),
    "dummy": frozenset(),
}


@dataclass(frozen=True, slots=True)
class PrinterAddress:
    """Where a printer is and how to talk to it."""

    url: str
    scheme: Scheme
    host: str = ""
    port: int = DEFAULT_TCP_PORT
    vendor_id: int = 0
    product_id: int = 0
    path: str = ""
    baudrate: int = 9600
    in_ep: int = 0x82
    out_ep: int = 0x01
    check_status: bool = True

    @property
    def bidirectional(self) -> bool:
        """Whether the printer's answers can be read back (not through a device file)."""
        return self.scheme != "file"


def parse_printer_url(url: str) -> PrinterAddress:
    """Parse a printer URL.

    Args:
        url: e.g. ``tcp://192.168.1.50:9100`` or ``usb://0416:5011?in_ep=0x81``.

    Returns:
        The address.

    Raises:
        PrinterConfigError: naming what was expected when the URL is malformed.
    """
    parts = urlsplit(url)
    if parts.scheme not in get_args(Scheme):
        raise PrinterConfigError(f"Expected a printer URL like {EXAMPLES}; got {url!r}")
    scheme = cast(Scheme, parts.scheme)
    options = _options(url, scheme, parts.query)
    try:
        return _PARSERS[scheme](url, parts.netloc, parts.path, options)
    except ValueError as exc:
        raise PrinterConfigError(
            f"Printer URL {url!r} is malformed ({exc}); e.g. {EXAMPLES}"
        ) from None


def _options(url: str, scheme: Scheme, query: str) -> dict[str, str]:
    """Query options, rejecting any the scheme does not take (typos would be ignored otherwise)."""
    options = dict(parse_qsl(query, keep_blank_values=True))
    unknown = set(options) - _OPTIONS[scheme]
    if unknown:
        raise PrinterConfigError(
            f"Printer URL {url!r} has unknown options {sorted(unknown)}; "
            f"{scheme}:// takes {sorted(_OPTIONS[scheme]) or 'none'}"
        )
    return options


def _status(options: dict[str, str]) -> bool:
    """The ``status`` option: on unless ``off``/``0``/``no``/``false``."""
    return options.get("status", "on").lower() not in {"off", "0", "no", "false"}


def _tcp(url: str, netloc: str, path: str, options: dict[str, str]) -> PrinterAddress:
    """``tcp://host[:port]``."""
    parts = urlsplit(url)
    if not parts.hostname or path not in ("", "/"):
        raise ValueError("expected tcp://HOST:PORT")
    port = parts.port or DEFAULT_TCP_PORT
    return PrinterAddress(url, "tcp", parts.hostname, port, check_status=_status(options))


def _usb(url: str, netloc: str, path: str, options: dict[str, str]) -> PrinterAddress:
    """``usb://VID:PID`` in hex, with optional ``in_ep``/``out_ep`` endpoints."""
    vendor, _, product = netloc.partition(":")
    return PrinterAddress(
        url,
        "usb",
        vendor_id=int(vendor, 16),
        product_id=int(product, 16),
        in_ep=int(options.get("in_ep", "0x82"), 0),
        out_ep=int(options.get("out_ep", "0x01"), 0),
        check_status=_status(options),
    )


def _serial(url: str, netloc: str, path: str, options: dict[str, str]) -> PrinterAddress:
    """``serial:///dev/ttyX?baudrate=9600``."""
    if netloc or not path:
        raise ValueError("expected serial:///dev/DEVICE")
    baudrate = int(options.get("baudrate", "9600"))
    return PrinterAddress(
        url, "serial", path=path, baudrate=baudrate, check_status=_status(options)
    )


def _file(url: str, netloc: str, path: str, options: dict[str, str]) -> PrinterAddress:
    """``file:///dev/usb/lp0``: write-only, so no status."""
    if netloc or not path:
        raise ValueError("expected file:///dev/usb/lpN")
    return PrinterAddress(url, "file", path=path, check_status=False)


def _dummy(url: str, netloc: str, path: str, options: dict[str, str]) -> PrinterAddress:
    """``dummy://``: keeps jobs in memory."""
    return PrinterAddress(url, "dummy")


_PARSERS = {"tcp": _tcp, "usb": _usb, "serial": _serial, "file": _file, "dummy": _dummy}
