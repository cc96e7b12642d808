"""``hallq printer test|status|virtual|preview``: try, query, simulate and draw printers."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from printer.errors import PrinterError
from printer.layout import PaperWidth
from printer.preview import render_preview
from printer.render import RenderOptions, render_ticket
from printer.samples import HALL_ZONE, sample_ticket
from printer.status import PrinterStatus
from printer.transports import DEFAULT_TIMEOUT_S, open_transport
from printer.virtual import VIRTUAL_STATES, VirtualState, run_virtual_printer


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``printer`` command group to a CLI.

    Each leaf command sets ``args.handler``, a function taking the parsed
    arguments and returning the exit status: ``sys.exit(args.handler(args))``.

    Args:
        subparsers: the result of ``parser.add_subparsers()`` of the ``hallq`` CLI.
    """
    group = subparsers.add_parser("printer", help="ESC/POS ticket printers")
    add_printer_commands(group.add_subparsers(dest="printer_command", required=True))


def add_printer_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``test``, ``status``, ``virtual`` and ``preview`` to a subparsers object."""
    test = commands.add_parser("test", help="print domain.md's sample ticket")
    test.add_argument("url", help="tcp://host:9100, usb://VID:PID, serial:///dev/ttyS0, ...")
    test.add_argument("--raster", action="store_true", help="for printers without Chinese fonts")
    test.add_argument("--width", type=int, choices=(58, 80), default=80, help="paper width, mm")
    test.add_argument("--language", choices=("zh", "en"), default="zh")
    test.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, help="seconds")
    test.set_defaults(handler=_test)
    status = commands.add_parser("status", help="read a printer's real-time status")
    status.add_argument("url")
    status.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, help="seconds")
    status.set_defaults(handler=_status)
    virtual = commands.add_parser("virtual", help="run a virtual network printer on loopback")
    virtual.add_argument("--port", type=int, default=9100)
    virtual.add_argument("--out", type=Path, required=True, help="directory for received jobs")
    virtual.add_argument("--status", choices=VIRTUAL_STATES, default="ok", help="how it behaves")
    virtual.add_argument("--host", default="127.0.0.1")
    virtual.set_defaults(handler=_virtual)
    preview = commands.add_parser("preview", help="draw the sample ticket to a PNG")
    preview.add_argument("out", type=Path, help="PNG file to write")
    preview.add_argument("--width", type=int, choices=(58, 80), default=80, help="paper width, mm")
    preview.add_argument("--language", choices=("zh", "en"), default="zh")
    preview.set_defaults(handler=_preview)


def _test(args: argparse.Namespace) -> int:
    """Render the sample ticket and send it."""
    width: PaperWidth = 58 if args.width == 58 else 80
    options = RenderOptions(mode="raster" if args.raster else "text", width_mm=width)
    ticket = sample_ticket(datetime.now(HALL_ZONE), args.language)
    try:
        rendered = render_ticket(ticket, options)
        status = asyncio.run(open_transport(args.url, args.timeout).send(rendered.data))
    except PrinterError as exc:
        return _failed(exc)
    _say(f"sent {len(rendered.data)} bytes ({rendered.mode} mode, {width} mm) to {args.url}")
    if rendered.missing_glyph_risk:
        _say(f"may print as blanks: {' '.join(rendered.missing_glyph_risk)}")
    _say(_describe(status) if status else "status not read (write-only transport or status=off)")
    return 0


def _status(args: argparse.Namespace) -> int:
    """Print the printer's status; exit 2 when it cannot print."""
    try:
        status = asyncio.run(open_transport(args.url, args.timeout).status())
    except PrinterError as exc:
        return _failed(exc)
    _say(_describe(status))
    return 0 if status.ready else 2


def _virtual(args: argparse.Namespace) -> int:
    """Run the virtual printer until interrupted."""
    state: VirtualState = args.status
    run_virtual_printer(args.port, args.out, state, args.host, announce=_say)
    return 0


def _preview(args: argparse.Namespace) -> int:
    """Write the sample ticket's preview PNG (how docs/tickets/ is made)."""
    width: PaperWidth = 58 if args.width == 58 else 80
    try:
        png = render_preview(sample_ticket(language=args.language), width)
    except PrinterError as exc:
        return _failed(exc)
    args.out.write_bytes(png)
    _say(f"wrote {args.out} ({len(png)} bytes)")
    return 0


def _describe(status: PrinterStatus) -> str:
    """One line per status flag."""
    flags = ("online", "cover_open", "paper_near_end", "paper_out", "error")
    lines = [f"{flag}: {'yes' if getattr(status, flag) else 'no'}" for flag in flags]
    return "\n".join([f"ready: {'yes' if status.ready else 'no'}", *lines])


def _failed(exc: PrinterError) -> int:
    """Report a printer error: the hall's message, then the operator's detail."""
    sys.stderr.write(f"{exc.user_message}\n{type(exc).__name__}: {exc}\n")
    return 1


def _say(line: str) -> None:
    """Write a line of command output (flushed: scripts wait for the virtual printer's URL)."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m printer test|status|virtual|preview ...``, until ``hallq`` has the group."""
    parser = argparse.ArgumentParser(prog="python -m printer", description=__doc__)
    add_printer_commands(parser.add_subparsers(dest="printer_command", required=True))
    args = parser.parse_args(argv)
    code: int = args.handler(args)
    return code
