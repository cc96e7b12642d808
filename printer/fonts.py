"""Finding CJK fonts for raster tickets and previews, and which font draws which character."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from PIL import ImageFont

from printer.errors import FontNotFound

FONT_DIRS = Path("/usr/share/fonts")

# (path under FONT_DIRS, Debian package). The first that exists draws the ticket.
PRIMARY_FONTS = (
    ("truetype/wqy/wqy-zenhei.ttc", "fonts-wqy-zenhei"),
    ("opentype/noto/NotoSansCJK-Regular.ttc", "fonts-noto-cjk"),
    ("truetype/wqy/wqy-microhei.ttc", "fonts-wqy-microhei"),
)
# Searched in order for characters the primary font lacks: HanaMin covers CJK
# extensions A–F (GB18030's four-byte range), which wqy-zenhei does not.
FALLBACK_FONTS = (
    ("truetype/hanazono/HanaMinA.ttf", "fonts-hanazono"),
    ("truetype/hanazono/HanaMinB.ttf", "fonts-hanazono"),
    *PRIMARY_FONTS,
)
# In a font collection, prefer a face whose ASCII is exactly half a Hanzi wide,
# so Latin letters sit in the 12-dot cells the printer uses.
PREFERRED_FACES = (
    "WenQuanYi Zen Hei Mono",
    "Noto Sans Mono CJK SC",
    "WenQuanYi Micro Hei Mono",
    "Noto Sans CJK SC",
)
_NOT_A_CHARACTER = "\U0010fffd"  # private use: no CJK font draws it, so we get .notdef
_PROBE_SIZE = 24


@dataclass(frozen=True, slots=True)
class FontConfig:
    """Where raster tickets and previews find fonts; None means search the Debian paths."""

    path: Path | None = None
    fallbacks: tuple[Path, ...] | None = None


@dataclass(frozen=True, slots=True)
class FontFace:
    """One face of a font file (collections such as .ttc hold several)."""

    path: Path
    index: int = 0


def resolve_fonts(config: FontConfig) -> tuple[FontFace, ...]:
    """Return the faces to draw with, the primary first, then fallbacks for rare characters.

    Args:
        config: a configured font path, or None to search the Debian font paths.

    Returns:
        The primary face and every fallback face that exists.

    Raises:
        FontNotFound: when the configured font is missing, or no known CJK font is installed;
            the message names the Debian package to install.
    """
    primary = _configured(config.path) if config.path else _first_installed()
    fallbacks = config.fallbacks if config.fallbacks is not None else _installed_fallbacks()
    extra = (face_of(path) for path in fallbacks if path.is_file() and path != primary.path)
    return (primary, *extra)


def _configured(path: Path) -> FontFace:
    """The configured font, which must exist."""
    if not path.is_file():
        raise FontNotFound(
            f"Printer font {path} does not exist; set the font path to a CJK TrueType/OpenType "
            f"font, or install the Debian package fonts-wqy-zenhei and leave the path unset"
        )
    return face_of(path)


def _first_installed() -> FontFace:
    """The first installed font of PRIMARY_FONTS."""
    for relative, _package in PRIMARY_FONTS:
        if (FONT_DIRS / relative).is_file():
            return face_of(FONT_DIRS / relative)
    looked = ", ".join(str(FONT_DIRS / relative) for relative, _ in PRIMARY_FONTS)
    raise FontNotFound(
        f"No CJK font for raster tickets: looked for {looked}. "
        f"Install the Debian package fonts-wqy-zenhei (apt-get install fonts-wqy-zenhei) "
        f"or fonts-noto-cjk, or set the printer font path"
    )


def _installed_fallbacks() -> tuple[Path, ...]:
    """The installed fonts of FALLBACK_FONTS."""
    paths = (FONT_DIRS / relative for relative, _ in FALLBACK_FONTS)
    return tuple(path for path in paths if path.is_file())


@lru_cache(maxsize=32)
def face_of(path: Path) -> FontFace:
    """Pick the preferred face of a font file (index 0 unless a PREFERRED_FACES one is in it)."""
    names = _face_names(path)
    for preferred in PREFERRED_FACES:
        if preferred in names:
            return FontFace(path, names.index(preferred))
    return FontFace(path, 0)


def _face_names(path: Path) -> list[str]:
    """Family names of every face in a font file, in index order."""
    names: list[str] = []
    while True:
        try:
            font = ImageFont.truetype(str(path), _PROBE_SIZE, index=len(names))
        except OSError:
            if not names:
                raise FontNotFound(f"Printer font {path} is not a font Pillow can read") from None
            return names
        names.append(font.getname()[0] or "")


@lru_cache(maxsize=64)
def load_font(face: FontFace, size: int) -> ImageFont.FreeTypeFont:
    """Load ``face`` at ``size`` pixels (cached: loading a 10 MB collection is slow)."""
    return ImageFont.truetype(str(face.path), size, index=face.index)


@lru_cache(maxsize=8192)
def covers(face: FontFace, ch: str) -> bool:
    """Tell whether ``face`` has a glyph for ``ch``.

    Pillow has no cmap lookup, so compare the drawn glyph with the font's .notdef box.
    """
    if ch.isspace():
        return True
    font = load_font(face, _PROBE_SIZE)
    missing = font.getmask(_NOT_A_CHARACTER)
    drawn = font.getmask(ch)
    return bool(drawn.size != missing.size or bytes(drawn) != bytes(missing))


def face_for(faces: tuple[FontFace, ...], ch: str) -> FontFace | None:
    """The first face that draws ``ch``, or None when none does."""
    return next((face for face in faces if covers(face, ch)), None)
