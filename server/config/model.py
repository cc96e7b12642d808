"""The validated configuration: frozen, typed values built from config.toml."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time
from pathlib import Path
from typing import Literal, TypeVar
from zoneinfo import ZoneInfo

from server.config.settings import ServerSettings
from server.domain.errors import not_found
from server.domain.model import BusinessHours, HallRules, QueuePolicy, WindowMode

Role = Literal["kiosk", "guide", "manager", "admin", "appointment", "mobile"]
ROLES: tuple[Role, ...] = ("kiosk", "guide", "manager", "admin", "appointment", "mobile")
WindowKind = Literal["service", "guide", "pickup"]
AnnounceKind = Literal["call", "recall", "transfer"]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class LaneConfig:
    """A lane: ``rank`` 0 is normal; priority lanes rank 1.. (lower is served first)."""

    id: str
    name: str
    name_en: str
    rank: int
    issued_by: frozenset[str]

    @property
    def is_priority(self) -> bool:
        """True for every lane but normal."""
        return self.rank > 0


@dataclass(frozen=True, slots=True)
class ZoneConfig:
    """An area of a hall with its own hall screen (综合屏)."""

    id: str
    name: str
    name_en: str
    location: str
    speaker_display: str | None = None


@dataclass(frozen=True, slots=True)
class QueueConfig:
    """A queue: its ticket prefix, limits and priority policy."""

    id: str
    prefix: str
    name: str
    name_en: str
    zone: str
    daily_cap: int | None
    stop_issuing: time | None
    policy: QueuePolicy


@dataclass(frozen=True, slots=True)
class WindowConfig:
    """A window and the queues it serves (``fifo`` across them or ``ordered`` by list)."""

    id: str
    number: int
    name: str
    name_en: str
    zone: str
    queues: tuple[str, ...]
    mode: WindowMode
    kind: WindowKind = "service"


@dataclass(frozen=True, slots=True)
class ServiceConfig:
    """A service item (办事事项) and the queue its tickets join."""

    code: str
    name: str
    name_en: str
    queue: str
    materials: tuple[str, ...]
    expected_minutes: float


@dataclass(frozen=True, slots=True)
class AnnounceConfig:
    """Voice templates; ``server.domain.announce`` fills them with the spoken forms.

    ``{number}`` becomes the number read digit by digit (A零零一 / A zero zero one) and
    ``{window}`` the spoken window including 号 (三号 / three).
    """

    call: str
    call_en: str
    recall: str
    recall_en: str
    transfer: str
    transfer_en: str
    repeat: int = 2
    english: bool = True

    def templates(self, kind: AnnounceKind) -> tuple[str, str]:
        """The Chinese and English templates of a call, recall or transfer."""
        return {
            "call": (self.call, self.call_en),
            "recall": (self.recall, self.recall_en),
            "transfer": (self.transfer, self.transfer_en),
        }[kind]


VoiceEngine = Literal["espeak-ng", "clips", "browser"]


@dataclass(frozen=True, slots=True)
class VoiceConfig:
    """How a hall's calls are heard (``[voice]``, ``[halls.voice]``; see docs/voice.md).

    The texts, ``repeat`` and ``english`` stay in ``AnnounceConfig``: this is only the sound.
    """

    engine: VoiceEngine = "espeak-ng"
    chime: bool = True
    espeak_voice: str = "cmn"
    espeak_voice_en: str = "en"
    espeak_speed: int = 150
    clips_dir: Path | None = None
    clips_phrases: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class VoiceCacheConfig:
    """Where rendered announcements are kept (``[voice] cache_dir``, ``cache_mb``)."""

    dir: Path | None = None  # None: <system temp>/hallq-voice
    max_mb: int = 64


@dataclass(frozen=True, slots=True)
class TicketTexts:
    """Reminder lines printed at the foot of a ticket."""

    reminders: tuple[str, ...]
    reminders_en: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DisplayConfig:
    """What a hall's screens show besides the queue (``[halls.display]``, docs/display.md).

    ``notice`` falls back to the hall's ``notice``. ``show_staff = false`` keeps staff out of
    the snapshot itself, not just off the screen: every hall subscriber receives it.
    """

    notice: str = ""
    notice_en: str = ""
    english: bool = False
    show_staff: bool = True


@dataclass(frozen=True, slots=True)
class HallConfig:
    """One hall site with everything resolved (rules merged, services filtered)."""

    id: str
    name: str
    name_en: str
    org_name: str
    org_name_en: str
    timezone: str
    tz: ZoneInfo
    hours: BusinessHours
    rules: HallRules
    zones: dict[str, ZoneConfig]
    queues: dict[str, QueueConfig]
    windows: dict[str, WindowConfig]
    services: dict[str, ServiceConfig]
    lanes: dict[str, LaneConfig]
    notice: str
    show_staff_name: bool
    announce: AnnounceConfig
    ticket_texts: TicketTexts
    voice: VoiceConfig
    display: DisplayConfig = DisplayConfig()

    def zone(self, zone_id: str) -> ZoneConfig:
        """The zone, or a 404 ``zone_not_found``."""
        return _lookup(self.zones, zone_id, "zone", "区域")

    def queue(self, queue_id: str) -> QueueConfig:
        """The queue, or a 404 ``queue_not_found``."""
        return _lookup(self.queues, queue_id, "queue", "队列")

    def window(self, window_id: str) -> WindowConfig:
        """The window, or a 404 ``window_not_found``."""
        return _lookup(self.windows, window_id, "window", "窗口")

    def service(self, code: str) -> ServiceConfig:
        """The service item, or a 404 ``service_not_found``."""
        return _lookup(self.services, code, "service", "办事事项")

    def lane(self, lane_id: str) -> LaneConfig:
        """The lane, or a 404 ``lane_not_found``."""
        return _lookup(self.lanes, lane_id, "lane", "通道")


@dataclass(frozen=True, slots=True)
class AppConfig:
    """The whole configuration: server settings, global lanes and the halls."""

    path: Path
    server: ServerSettings
    lanes: dict[str, LaneConfig]
    halls: dict[str, HallConfig]
    voice_cache: VoiceCacheConfig

    def hall(self, hall_id: str) -> HallConfig:
        """The hall, or a 404 ``hall_not_found``."""
        return _lookup(self.halls, hall_id, "hall", "大厅")


def _lookup(items: dict[str, T], key: str, kind: str, zh_kind: str) -> T:
    try:
        return items[key]
    except KeyError:
        raise not_found(kind, key, zh_kind) from None
