"""The sample ticket of domain.md, for ``printer test``, the docs' PNGs and the benchmark."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from printer.layout import Language, TicketPrint

HALL_ZONE = ZoneInfo("Asia/Shanghai")
SAMPLE_ISSUED_AT = datetime(2026, 11, 27, 9, 15, 22, tzinfo=HALL_ZONE)


def sample_ticket(
    issued_at: datetime = SAMPLE_ISSUED_AT,
    language: Language = "zh",
    materials: tuple[str, ...] = ("居民身份证原件及复印件", "户口簿"),
) -> TicketPrint:
    """Return domain.md's sample ticket (金江 hall, 社会事务区, A001).

    Args:
        issued_at: the issue time; the sample's 2026-11-27 09:15:22 by default.
        language: ``zh`` or ``en`` labels.
        materials: the materials checklist; empty for none.

    Returns:
        The ticket.
    """
    return TicketPrint(
        hall_name="澄迈县政务服务中心",
        hall_subtitle="金江政务服务大厅",
        zone="一楼 社会事务区（1-6号窗口）",
        service="社会事务综合窗口",
        number="A001",
        waiting_ahead=3,
        estimated_wait_s=12 * 60,
        issued_at=issued_at,
        status_url="https://hallq.example.cn/t/jinjiang/20261127-A001",
        materials=materials,
        language=language,
    )
