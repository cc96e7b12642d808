"""The ESC/POS decoder, the virtual printer's job files, and the CLI end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from printer.escpos_decode import EscPosDecoder
from printer.layout import TicketPrint
from printer.render import RenderOptions, render_ticket
from printer.status import STATUS_QUERY
from printer.transports import send
from printer.virtual import VirtualPrinter

ROOT = Path(__file__).resolve().parents[2]


def test_decoder_accepts_any_chunking(ticket: TicketPrint) -> None:
    """Fed one byte at a time, the decoder finds the same text, QR code and status queries."""
    data = render_ticket(ticket).data + b"\x10\x04\x04"
    whole, trickle = EscPosDecoder(), EscPosDecoder()
    queries = whole.feed(data)
    trickled = [n for i in range(len(data)) for n in trickle.feed(data[i : i + 1])]
    assert (trickle.text, trickle.job.qr_codes, trickled) == (whole.text, whole.job.qr_codes, [4])
    assert queries == [4]


def test_decoder_shows_a_missing_fs_ampersand() -> None:
    """GB18030 bytes sent outside Chinese mode decode as replacement characters."""
    decoder = EscPosDecoder()
    decoder.feed(b"\x1b@" + "号".encode("gb18030") + b"\x1c&" + "号\n".encode("gb18030"))
    assert decoder.text == "\ufffd\ufffd号\n"


def test_decoder_stitches_raster_fragments() -> None:
    """Consecutive GS v 0 fragments make one picture; ink bits become black pixels."""
    fragment = b"\x1dv0\x00\x01\x00\x02\x00" + b"\x80\x00"  # 8x2 dots, top-left dot inked
    decoder = EscPosDecoder()
    decoder.feed(fragment + fragment + b"A\n" + fragment)
    sizes = [image.size for image in decoder.job.images]
    assert sizes == [(8, 4), (8, 2)]
    assert decoder.job.images[0].getpixel((0, 0)) == 0
    assert decoder.job.images[0].getpixel((1, 0)) == 255


def test_decoder_records_unknown_commands() -> None:
    """Commands it does not know are skipped and listed, not printed as text."""
    decoder = EscPosDecoder()
    decoder.feed(b"\x1b\x7fA\n")
    assert decoder.job.unknown_commands == [b"\x1b\x7f"]
    assert decoder.text == "A\n"


async def test_jobs_are_saved_to_the_out_dir(tmp_path: Path, ticket: TicketPrint) -> None:
    """Each job leaves its raw bytes, decoded text, a JSON summary and PNGs of its images."""
    async with VirtualPrinter(tmp_path) as printer:
        rendered = render_ticket(ticket, RenderOptions(width_mm=58))
        await send(printer.url, rendered.data)
        await printer.next_job()
    raw = (tmp_path / "job-0001.bin").read_bytes()
    assert raw == STATUS_QUERY + rendered.data + STATUS_QUERY  # everything that came, as it came
    assert (tmp_path / "job-0001.txt").read_text(encoding="utf-8") == rendered.text
    summary = json.loads((tmp_path / "job-0001.json").read_text(encoding="utf-8"))
    assert summary["images"] == [[384, 175]]
    assert (tmp_path / "job-0001-1.png").is_file()


async def test_status_only_connections_are_not_jobs(virtual_printer: VirtualPrinter) -> None:
    """A connection that only asks for status leaves no job behind."""
    await virtual_printer.set_state("ok")
    await send(virtual_printer.url, b"")
    with pytest.raises(TimeoutError):
        await virtual_printer.next_job(0.2)


def test_cli_prints_to_the_virtual_printer(tmp_path: Path) -> None:
    """`python -m printer virtual` runs a printer; `test --raster --width 58` and `status`
    talk to it; the job lands in --out."""
    command = [sys.executable, "-m", "printer", "virtual", "--port", "0", "--out", str(tmp_path)]
    with subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True) as virtual:
        try:
            assert virtual.stdout is not None
            url = virtual.stdout.readline().split()[3]
            test = _cli("test", url, "--raster", "--width", "58")
            assert test.returncode == 0 and "(raster mode, 58 mm)" in test.stdout
            assert "ready: yes" in _cli("status", url).stdout
        finally:
            virtual.terminate()
    assert (tmp_path / "job-0001-1.png").is_file()


def test_cli_reports_a_refused_printer_in_chinese_first() -> None:
    """A printer error exits 1 with the hall's Chinese message, then the operator's detail."""
    result = _cli("status", "tcp://127.0.0.1:1", "--timeout", "1")
    assert result.returncode == 1
    assert result.stderr.startswith("打印机拒绝连接")
    assert "PrinterRefused: tcp://127.0.0.1:1 refused the connection" in result.stderr


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    """Run `python -m printer ARGS`."""
    command = [sys.executable, "-m", "printer", *args]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=20)
