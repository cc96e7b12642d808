"""The shape of config.toml as pydantic models: types, unknown keys and ranges, no references."""

from __future__ import annotations

from datetime import time
from typing import Annotated, Literal, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from server.config.model import Role
from server.config.settings import ServerSettings

_DEFAULT = ServerSettings()


def _time_text(value: object) -> object:
    """TOML local times (``17:00:00``) are accepted as well as ``"17:00"`` strings."""
    return value.strftime("%H:%M") if isinstance(value, time) else value


Text = Annotated[str, Field(min_length=1)]
TimeText = Annotated[str, BeforeValidator(_time_text)]
Count = Annotated[int, Field(ge=0, le=1000)]


class Raw(BaseModel):
    """Strict (no coercion from strings), unknown keys rejected, immutable."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


R = TypeVar("R", bound=Raw)


def layered(model: type[R], *layers: Raw) -> R:
    """``model`` with the keys set in later layers overriding those set in earlier ones."""
    merged: dict[str, object] = {}
    for layer in layers:
        merged.update(layer.model_dump(exclude_none=True))
    return model.model_validate(merged)


class ServerRaw(Raw):
    host: Text = _DEFAULT.host
    port: int = _DEFAULT.port
    workers: int = _DEFAULT.workers
    database_url: Text = _DEFAULT.database_url
    broadcast_url: Text = _DEFAULT.broadcast_url
    secret_key: str | None = None
    public_base_url: Text = _DEFAULT.public_base_url
    allowed_origins: list[str] = Field(default_factory=list)
    staff_token_ttl_h: int = _DEFAULT.staff_token_ttl_h
    idempotency_ttl_h: int = _DEFAULT.idempotency_ttl_h
    max_body_bytes: int = _DEFAULT.max_body_bytes


class RulesRaw(Raw):
    """Every key optional: a hall's ``rules`` override the top-level ``[rules]`` key by key."""

    recall_limit: Count | None = None
    recall_cooldown_s: Count | None = None
    requeue_after: Count | None = None
    requeue_per_day: Count | None = None
    require_end_before_next: bool | None = None


class HoursRaw(Raw):
    days: list[int] | None = None
    sessions: list[str] | None = None


class AnnounceRaw(Raw):
    call: Text | None = None
    call_en: Text | None = None
    recall: Text | None = None
    recall_en: Text | None = None
    transfer: Text | None = None
    transfer_en: Text | None = None
    repeat: Annotated[int, Field(ge=1, le=5)] | None = None
    english: bool | None = None


class VoiceRaw(Raw):
    """Every key optional: ``[halls.voice]`` overrides the top-level ``[voice]`` key by key."""

    engine: Literal["espeak-ng", "clips", "browser"] | None = None
    chime: bool | None = None
    espeak_voice: Text | None = None
    espeak_voice_en: Text | None = None
    espeak_speed: Annotated[int, Field(ge=80, le=300)] | None = None
    clips_dir: Text | None = None
    clips_phrases: dict[str, str] | None = None


class VoiceTopRaw(VoiceRaw):
    """The top-level ``[voice]``: hall defaults plus the server-wide audio cache."""

    cache_dir: Text | None = None
    cache_mb: Annotated[int, Field(ge=1, le=4096)] | None = None


def hall_voice(top: VoiceTopRaw, hall: VoiceRaw) -> VoiceRaw:
    """A hall's voice keys: ``[voice]`` (without the server-wide cache keys) under its own."""
    defaults = VoiceRaw.model_validate(top.model_dump(exclude={"cache_dir", "cache_mb"}))
    return layered(VoiceRaw, defaults, hall)


class TicketTextsRaw(Raw):
    reminders: list[str] | None = None
    reminders_en: list[str] | None = None


class LaneRaw(Raw):
    id: str
    name: Text
    name_en: Text
    rank: Annotated[int, Field(ge=0, le=99)]
    issued_by: list[Role]


class LaneOverrideRaw(Raw):
    issued_by: list[Role]


class ServiceRaw(Raw):
    code: str
    name: Text
    name_en: Text
    queue: str
    materials: list[Text] = Field(default_factory=list)
    expected_minutes: Annotated[float, Field(gt=0, le=480)]


class ZoneRaw(Raw):
    id: str
    name: Text
    name_en: Text
    location: str = ""
    speaker_display: str | None = None


class QueueRaw(Raw):
    id: str
    prefix: str
    name: Text
    name_en: Text
    zone: str
    daily_cap: Annotated[int, Field(ge=1)] | None = None
    stop_issuing: TimeText | None = None
    policy: Literal["strict", "interleave"] = "interleave"
    interleave: int = 2
    normal_max_wait_min: Annotated[int, Field(ge=1, le=480)] = 30


class WindowRaw(Raw):
    id: str
    number: Annotated[int, Field(ge=1, le=9999)]
    name: Text
    name_en: Text
    zone: str
    queues: list[str]
    mode: Literal["fifo", "ordered"] = "fifo"
    kind: Literal["service", "guide", "pickup"] = "service"


class DisplayRaw(Raw):
    """``[halls.display]``: what the hall's screens show besides the queue (docs/display.md)."""

    notice: Annotated[str, Field(max_length=500)] | None = None
    notice_en: Annotated[str, Field(max_length=500)] | None = None
    english: bool = False
    show_staff: bool = True


class HallRaw(Raw):
    id: str
    name: Text
    name_en: Text
    org_name: Text
    org_name_en: Text
    timezone: str = "Asia/Shanghai"
    notice: str = ""
    show_staff_name: bool = True
    hours: HoursRaw = HoursRaw()
    rules: RulesRaw = RulesRaw()
    announce: AnnounceRaw = AnnounceRaw()
    voice: VoiceRaw = VoiceRaw()
    display: DisplayRaw = DisplayRaw()
    ticket_texts: TicketTextsRaw = TicketTextsRaw()
    lanes: dict[str, LaneOverrideRaw] = Field(default_factory=dict)
    zones: list[ZoneRaw] = Field(default_factory=list)
    queues: list[QueueRaw] = Field(default_factory=list)
    windows: list[WindowRaw] = Field(default_factory=list)


class ConfigRaw(Raw):
    server: ServerRaw = ServerRaw()
    rules: RulesRaw = RulesRaw()
    hours: HoursRaw = HoursRaw()
    announce: AnnounceRaw = AnnounceRaw()
    voice: VoiceTopRaw = VoiceTopRaw()
    ticket_texts: TicketTextsRaw = TicketTextsRaw()
    lanes: list[LaneRaw] = Field(default_factory=list)
    services: list[ServiceRaw] = Field(default_factory=list)
    halls: list[HallRaw] = Field(default_factory=list)
