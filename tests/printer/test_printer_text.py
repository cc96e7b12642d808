"""Column widths, wrapping and GB18030 risk (printer/text.py)."""

from __future__ import annotations

import itertools
import unicodedata

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from printer.text import (
    CLOSERS,
    char_columns,
    clean_text,
    glyph_risk,
    text_columns,
    wrap,
    wrap_labeled,
)


@pytest.mark.parametrize(
    ("ch", "columns"),
    [("A", 1), (" ", 1), ("澄", 2), ("（", 2), ("，", 2), ("é", 2), ("—", 2), ("𠀀", 2)],
)
def test_char_columns(ch: str, columns: int) -> None:
    """ASCII takes one column and everything a GB printer draws in a 24-dot cell takes two."""
    assert char_columns(ch) == columns


@given(st.characters(codec="utf-8"))
def test_wide_and_fullwidth_characters_take_two_columns(ch: str) -> None:
    """Every character east_asian_width calls W or F counts as two columns."""
    if unicodedata.east_asian_width(ch) in ("W", "F"):
        assert char_columns(ch) == 2


def test_clean_text_drops_controls_and_composes() -> None:
    """Control and format characters go, line breaks become spaces, accents compose."""
    assert clean_text("A\x1b@\u200b0\t0\n1 e\u0301") == "A@0 0 1 é"


@pytest.mark.parametrize(
    ("text", "width", "lines"),
    [
        (
            "您前面还有 3 人等候，预计等候约 12 分钟",
            30,
            ["您前面还有 3 人等候，预计等候", "约 12 分钟"],
        ),
        ("Please watch the hall screen", 16, ["Please watch the", "hall screen"]),
        ("abcdefghij", 4, ["abcd", "efgh", "ij"]),
        ("社会事务区（1-6号窗口）", 20, ["社会事务区（1-6号窗", "口）"]),
        ("号码（A001）", 8, ["号码", "（A001）"]),
        ("。", 10, ["。"]),
        ("", 10, [""]),
    ],
)
def test_wrap_examples(text: str, width: int, lines: list[str]) -> None:
    """Wrapping breaks at spaces or between Hanzi, keeps closing marks off line starts and
    opening marks off line ends."""
    assert wrap(text, width) == lines


def test_wrap_rejects_width_below_one_hanzi() -> None:
    """A width that cannot hold one full-width character is a programming error."""
    with pytest.raises(ValueError, match="at least 2 columns"):
        wrap("澄迈", 1)


@given(st.text(), st.integers(min_value=2, max_value=64))
@example("。。。。。", 2)
@example("（（（（", 3)
@example("a" * 100, 7)
def test_wrap_never_exceeds_the_width(text: str, width: int) -> None:
    """For any mix of characters, no wrapped line is wider than the width and no
    character other than a break space is lost."""
    cleaned = clean_text(text)
    lines = wrap(cleaned, width)
    assert all(text_columns(line) <= width for line in lines)
    assert "".join(lines).replace(" ", "") == cleaned.replace(" ", "")


@given(
    st.text(alphabet="业务：窗口（）。，ab12", min_size=1), st.integers(min_value=8, max_value=48)
)
def test_closing_marks_start_a_line_only_after_another_closing_mark(text: str, width: int) -> None:
    """In unspaced text a line starts with a closing mark only when the line before ends in
    one too or could not give a character away."""
    lines = wrap(clean_text(text), width)
    for before, line in itertools.pairwise(lines):
        if line[:1] in CLOSERS:
            assert before[-1:] in CLOSERS or len(before.replace(" ", "")) <= 1


def test_wrap_labeled_hangs_continuation_lines_under_the_value() -> None:
    """A long service name continues under its first character, not under the label."""
    lines = wrap_labeled("业务：", "不动产登记与抵押权注销综合窗口（含预告登记）", 32)
    assert lines == ["  业务：不动产登记与抵押权注销综", "        合窗口（含预告登记）"]


@given(st.text(), st.text(), st.integers(min_value=4, max_value=48))
def test_wrap_labeled_never_exceeds_the_width(label: str, value: str, width: int) -> None:
    """Labelled lines fit the width whatever the label and value."""
    lines = wrap_labeled(clean_text(label), clean_text(value), width)
    assert all(text_columns(line) <= width for line in lines)


def test_glyph_risk_reports_characters_beyond_gbk() -> None:
    """𠀀 (four-byte) and 䶮 (FE9F, a GB18030 addition) are at risk on a GBK printer; GBK is not."""
    assert glyph_risk("澄迈 A001 𠀀䶮 镕 𠀀") == ["𠀀", "䶮"]


def test_glyph_risk_is_stricter_for_gb2312_printers() -> None:
    """镕 is in GBK but not GB2312, so only GB2312 printers risk it."""
    assert glyph_risk("镕", "gb2312") == ["镕"]
    assert glyph_risk("镕", "gbk") == []
