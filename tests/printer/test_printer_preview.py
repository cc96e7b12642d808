"""PNG previews and font discovery (printer/preview.py, printer/fonts.py)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from printer import fonts
from printer.errors import FontNotFound
from printer.fonts import FontConfig, FontFace, covers, face_of, resolve_fonts
from printer.layout import PaperWidth, TicketPrint
from printer.preview import FRAME_DOTS, preview_image, render_preview
from printer.render import RenderOptions, render_ticket

WQY = Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")


@pytest.mark.parametrize(("width", "dots"), [(80, 576), (58, 384)])
def test_preview_is_a_png_one_pixel_per_dot(
    ticket: TicketPrint, width: PaperWidth, dots: int
) -> None:
    """The preview is a PNG as wide as the paper's dots plus its frame."""
    image = Image.open(io.BytesIO(render_preview(ticket, width)))
    assert image.format == "PNG"
    assert image.width == dots + 2 * FRAME_DOTS
    assert image.height > image.width


def test_preview_shows_what_raster_mode_prints(ticket: TicketPrint) -> None:
    """Preview and raster job come from one drawing: same height, ink where the ticket has ink."""
    preview = preview_image(ticket, 58)
    inner = preview.crop(
        (FRAME_DOTS, FRAME_DOTS, preview.width - FRAME_DOTS, preview.height - FRAME_DOTS)
    )
    rendered = render_ticket(ticket, RenderOptions(mode="raster", width_mm=58))
    rows = sum(
        int.from_bytes(rendered.data[i + 6 : i + 8], "little")
        for i in _raster_headers(rendered.data)
    )
    assert rows == inner.height
    assert inner.getextrema() == (0, 255)


def _raster_headers(data: bytes) -> list[int]:
    """Offsets of GS v 0 headers in a job."""
    return [i for i in range(len(data) - 3) if data[i : i + 3] == b"\x1dv0"]


def test_wqy_zenhei_uses_its_monospaced_face() -> None:
    """In wqy-zenhei.ttc the Mono face is chosen, so ASCII is half a Hanzi wide."""
    assert face_of(WQY) == FontFace(WQY, 1)


def test_covers_tells_real_glyphs_from_notdef() -> None:
    """wqy-zenhei draws 澄 but not 𠀀 (CJK Extension B)."""
    face = face_of(WQY)
    assert covers(face, "澄")
    assert not covers(face, "𠀀")


def test_missing_configured_font_names_the_debian_package(tmp_path: Path) -> None:
    """A configured font path that does not exist says which package to install instead."""
    with pytest.raises(FontNotFound, match="fonts-wqy-zenhei"):
        resolve_fonts(FontConfig(path=tmp_path / "nope.ttf"))


def test_no_cjk_font_installed_names_the_debian_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ticket: TicketPrint
) -> None:
    """With no CJK font on the machine, raster rendering fails naming fonts-wqy-zenhei."""
    monkeypatch.setattr(fonts, "FONT_DIRS", tmp_path)
    with pytest.raises(FontNotFound, match=r"apt-get install fonts-wqy-zenhei"):
        render_ticket(ticket, RenderOptions(mode="raster"))


def test_without_a_fallback_font_raster_mode_reports_rare_characters(
    tricky_ticket: TicketPrint,
) -> None:
    """If no installed font draws 𠀀, raster mode reports it instead of printing a box silently."""
    options = RenderOptions(mode="raster", fonts=FontConfig(path=WQY, fallbacks=()))
    assert render_ticket(tricky_ticket, options).missing_glyph_risk == ("𠀀",)
