"""Ticket data, layout texts and composing a ticket (printer/layout.py, printer/compose.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import pytest

from printer.compose import QrCode, TextLine, compose_ticket
from printer.errors import PrinterConfigError
from printer.layout import EN_TEXTS, PAPERS, TicketLayoutTexts, TicketPrint
from printer.render import RenderOptions, render_ticket
from printer.text import text_columns

SAMPLE_80MM = """\
澄迈县政务服务中心
（金江政务服务大厅）
------------------------------------------------
  业务：社会事务综合窗口
  区域：一楼 社会事务区（1-6号窗口）
------------------------------------------------
A001
------------------------------------------------
  您前面还有 3 人等候，预计等候约 12 分钟
  取号时间：2026-11-27 09:15:22
------------------------------------------------
  请备齐以下材料：
  □ 居民身份证原件及复印件
  □ 户口簿
------------------------------------------------
  请在等候区留意大屏和语音叫号。
  过号请到导办台登记，当日有效。
  办理完毕请对本次服务进行评价。
扫码查看排队进度、评价服务
------------------------------------------------
"""


def test_sample_ticket_reads_like_domain_md(ticket: TicketPrint) -> None:
    """The 80 mm layout of the sample ticket has domain.md's lines, plus the materials."""
    assert compose_ticket(ticket, PAPERS[80]).text == SAMPLE_80MM


def test_sample_ticket_styles(ticket: TicketPrint) -> None:
    """The hall name is double-height bold, the number 4x bold, the QR holds the status URL."""
    layout = compose_ticket(ticket, PAPERS[80])
    lines = [block for block in layout.blocks if isinstance(block, TextLine)]
    assert lines[0] == TextLine("澄迈县政务服务中心", "center", 1, 2, True)
    assert TextLine("A001", "center", 4, 4, True) in lines
    assert QrCode(ticket.status_url) in layout.blocks


@pytest.mark.parametrize("width", [80, 58])
def test_every_line_fits_the_paper(tricky_ticket: TicketPrint, width: int) -> None:
    """Every line, at its magnification, fits the paper's columns."""
    paper = PAPERS[80 if width == 80 else 58]
    for block in compose_ticket(tricky_ticket, paper).blocks:
        if isinstance(block, TextLine):
            assert text_columns(block.text) * block.width <= paper.columns


def test_without_materials_there_is_no_checklist(ticket: TicketPrint) -> None:
    """A service item without materials prints no checklist title."""
    layout = compose_ticket(replace(ticket, materials=()), PAPERS[80])
    assert "请备齐以下材料" not in layout.text


def test_english_ticket_uses_english_labels(ticket: TicketPrint) -> None:
    """language='en' picks the English labels and reminders by default."""
    text = compose_ticket(replace(ticket, language="en"), PAPERS[80]).text
    assert "  Service: 社会事务综合窗口\n" in text
    assert "3 people ahead of you, about 12 min wait" in text


def test_nobody_ahead_leaves_the_eta_out(ticket: TicketPrint) -> None:
    """With nobody waiting ahead the ticket says so and gives no estimate."""
    text = compose_ticket(replace(ticket, waiting_ahead=0), PAPERS[80]).text
    assert "您前面没有人等候\n" in text
    assert "预计" not in text


def test_texts_come_from_config(ticket: TicketPrint) -> None:
    """Configured reminders replace the built-in ones."""
    texts = TicketLayoutTexts(reminders=("请保管好您的号票。",))
    text = compose_ticket(ticket, PAPERS[80], texts).text
    assert "  请保管好您的号票。\n" in text
    assert "过号" not in text


def test_template_with_unknown_field_is_rejected_at_config_time() -> None:
    """A reminder template naming a field the renderer does not fill fails when loaded."""
    with pytest.raises(PrinterConfigError, match=r"uses \['name'\]; expected only \['ahead'\]"):
        replace(EN_TEXTS, waiting_ahead="{name} is waiting")


def test_naive_issue_time_is_rejected(ticket: TicketPrint) -> None:
    """issued_at without a zone would print the server's local time: refuse it."""
    with pytest.raises(ValueError, match="aware issued_at"):
        replace(ticket, issued_at=datetime(2026, 11, 27, 9, 15))


def test_unknown_printer_profile_is_a_config_error(ticket: TicketPrint) -> None:
    """A misspelt python-escpos profile name is reported as configuration, not a KeyError."""
    with pytest.raises(PrinterConfigError, match="no printer profile 'KR306'"):
        render_ticket(ticket, RenderOptions(profile="KR306"))


def test_unknown_paper_width_is_a_config_error() -> None:
    """Only 58 mm and 80 mm paper exist."""
    with pytest.raises(PrinterConfigError, match="Expected paper width 58 or 80"):
        RenderOptions(width_mm=76)  # type: ignore[arg-type]
