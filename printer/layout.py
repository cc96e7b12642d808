"""What a ticket says: the ticket's data, the hall's layout texts and the paper it goes on."""

from __future__ import annotations

import string
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from printer.errors import PrinterConfigError

Language = Literal["zh", "en"]
PaperWidth = Literal[58, 80]

_TEMPLATE_FIELDS = {
    "subtitle_template": {"subtitle"},
    "waiting_ahead": {"ahead"},
    "eta": {"minutes"},
}


@dataclass(frozen=True, slots=True)
class TicketLayoutTexts:
    """Labels and reminder lines printed on every ticket; the server fills them from config.

    Templates use ``str.format`` fields: ``{subtitle}``, ``{ahead}``, ``{minutes}``.
    Empty strings leave a line out.
    """

    subtitle_template: str = "（{subtitle}）"
    service_label: str = "业务："
    zone_label: str = "区域："
    waiting_ahead: str = "您前面还有 {ahead} 人等候"
    waiting_none: str = "您前面没有人等候"
    eta: str = "，预计等候约 {minutes} 分钟"
    issued_label: str = "取号时间："
    materials_title: str = "请备齐以下材料："
    material_bullet: str = "□ "
    reminders: tuple[str, ...] = (
        "请在等候区留意大屏和语音叫号。",
        "过号请到导办台登记，当日有效。",
        "办理完毕请对本次服务进行评价。",
    )
    qr_caption: str = "扫码查看排队进度、评价服务"

    def __post_init__(self) -> None:
        for name, allowed in _TEMPLATE_FIELDS.items():
            _check_template(name, getattr(self, name), allowed)


def _check_template(name: str, template: str, allowed: set[str]) -> None:
    """Reject a template with fields the renderer does not fill, at config time not print time."""
    try:
        used = {fname for _, fname, _, _ in string.Formatter().parse(template) if fname}
    except ValueError as exc:
        raise PrinterConfigError(
            f"Ticket text {name}={template!r} is not a format string: {exc}"
        ) from None
    if not used <= allowed:
        raise PrinterConfigError(
            f"Ticket text {name}={template!r} uses {sorted(used - allowed)}; "
            f"expected only {sorted(allowed)}"
        )


ZH_TEXTS = TicketLayoutTexts()
EN_TEXTS = TicketLayoutTexts(
    subtitle_template="({subtitle})",
    service_label="Service: ",
    zone_label="Zone: ",
    waiting_ahead="{ahead} people ahead of you",
    waiting_none="No one is ahead of you",
    eta=", about {minutes} min wait",
    issued_label="Issued: ",
    materials_title="Please have ready:",
    reminders=(
        "Please watch the hall screen and listen for your number.",
        "Missed your turn? Register at the guide desk; valid today only.",
        "Please rate our service when you are done.",
    ),
    qr_caption="Scan for your queue status and to rate our service",
)


def default_texts(language: Language) -> TicketLayoutTexts:
    """Return the built-in layout texts for ``language`` (domain.md's sample in Chinese)."""
    return ZH_TEXTS if language == "zh" else EN_TEXTS


@dataclass(frozen=True, slots=True)
class TicketPrint:
    """The data printed on one ticket.

    ``issued_at`` must be timezone-aware and is printed in its own zone, so pass it
    in the hall's zone (Asia/Shanghai). ``estimated_wait_s=None`` leaves the ETA out.
    """

    hall_name: str
    hall_subtitle: str
    zone: str
    service: str
    number: str
    waiting_ahead: int
    estimated_wait_s: int | None
    issued_at: datetime
    status_url: str
    materials: tuple[str, ...] = ()
    language: Language = "zh"

    def __post_init__(self) -> None:
        if self.issued_at.utcoffset() is None:
            raise ValueError(f"Expected an aware issued_at, got naive {self.issued_at!r}")
        if self.waiting_ahead < 0:
            raise ValueError(f"Expected waiting_ahead >= 0, got {self.waiting_ahead}")
        if self.language not in ("zh", "en"):
            raise ValueError(f"Expected language 'zh' or 'en', got {self.language!r}")


@dataclass(frozen=True, slots=True)
class Paper:
    """A paper width: printable dots, columns at normal size, and a python-escpos profile.

    The default profiles are real printers of that width: KR-306 (576 dots, native QR,
    cutter) and POS-5890 (384 dots, no native QR, no cutter), the usual 58 mm kind.
    """

    width_mm: PaperWidth
    dots: int
    columns: int
    profile: str = "default"

    @property
    def cell_dots(self) -> int:
        """Dots per column: a half-width character is 12 dots wide, a Hanzi 24."""
        return self.dots // self.columns


PAPERS: dict[PaperWidth, Paper] = {
    80: Paper(80, 576, 48, "KR-306"),
    58: Paper(58, 384, 32, "POS-5890"),
}
