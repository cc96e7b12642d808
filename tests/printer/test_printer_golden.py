"""Exact ESC/POS bytes of the sample ticket, per paper width and mode.

The goldens live in tests/printer/golden/. After an intended change to the layout
or the commands, regenerate them, review the diff of the .txt and .bin.hex files,
and commit them:

    HALLQ_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/printer/test_printer_golden.py

Raster goldens are sha256 digests: the bytes depend on the Debian font
fonts-wqy-zenhei and on Pillow's FreeType, both pinned for CI.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from printer.layout import PaperWidth
from printer.render import RenderMode, RenderOptions, render_ticket
from printer.samples import sample_ticket

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("HALLQ_UPDATE_GOLDEN") == "1"


def _check(path: Path, actual: str) -> None:
    """Compare with the golden file, or rewrite it under HALLQ_UPDATE_GOLDEN=1."""
    if UPDATE:
        path.write_text(actual, encoding="utf-8")
    assert path.read_text(encoding="utf-8") == actual, f"{path.name} changed; see module doc"


def _hex_lines(data: bytes) -> str:
    """Bytes as hex, one printed line per text line, so diffs show what moved."""
    return "".join(line.hex(" ") + "\n" for line in data.split(b"\n"))


@pytest.mark.parametrize("width", [80, 58])
def test_text_mode_bytes_match_golden(width: PaperWidth) -> None:
    """Text mode sends the sample ticket as exactly the reviewed FS & / GB18030 bytes."""
    rendered = render_ticket(sample_ticket(), RenderOptions(mode="text", width_mm=width))
    _check(GOLDEN / f"ticket-{width}mm-text.bin.hex", _hex_lines(rendered.data))
    _check(GOLDEN / f"ticket-{width}mm-text.txt", rendered.text)


@pytest.mark.parametrize("width", [80, 58])
def test_raster_mode_bytes_match_golden(width: PaperWidth) -> None:
    """Raster mode sends the sample ticket as exactly the reviewed GS v 0 image bytes."""
    mode: RenderMode = "raster"
    rendered = render_ticket(sample_ticket(), RenderOptions(mode=mode, width_mm=width))
    digest = hashlib.sha256(rendered.data).hexdigest()
    _check(GOLDEN / f"ticket-{width}mm-raster.sha256", f"{digest}  {len(rendered.data)} bytes\n")
