"""Turn a checked raw config into the frozen typed AppConfig (defaults and overrides merged)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from zoneinfo import ZoneInfo

from server.config.checks import server_settings
from server.config.hours import business_hours, parse_time
from server.config.model import (
    AnnounceConfig,
    AppConfig,
    DisplayConfig,
    HallConfig,
    LaneConfig,
    QueueConfig,
    ServiceConfig,
    TicketTexts,
    VoiceCacheConfig,
    VoiceConfig,
    WindowConfig,
    ZoneConfig,
)
from server.config.schema import (
    AnnounceRaw,
    ConfigRaw,
    HallRaw,
    HoursRaw,
    LaneRaw,
    QueueRaw,
    RulesRaw,
    ServiceRaw,
    TicketTextsRaw,
    VoiceTopRaw,
    WindowRaw,
    hall_voice,
    layered,
)
from server.domain.model import HallRules, QueuePolicy

DEFAULT_ANNOUNCE = AnnounceConfig(
    call="请{number}号，到{window}窗口办理。",
    call_en="Number {number}, please go to window {window}.",
    recall="{number}号，请到{window}窗口办理。",
    recall_en="Number {number}, once again, please go to window {window}.",
    transfer="请{number}号，到{window}窗口继续办理。",
    transfer_en="Number {number}, please go to window {window} to continue.",
)
DEFAULT_TICKET_TEXTS = TicketTexts(
    reminders=(
        "请在等候区留意大屏和语音叫号。",
        "过号请到导办台登记，当日有效。",
        "办理完毕请对本次服务进行评价。",
    ),
    reminders_en=(
        "Please watch the screens and listen for your number.",
        "Missed your turn? Register again at the guide desk (today only).",
        "Please rate our service when you are done.",
    ),
)


def build_config(raw: ConfigRaw, path: Path) -> AppConfig:
    """The typed config of a raw config that passed every check."""
    lanes = {lane.id: _lane(lane) for lane in raw.lanes}
    return AppConfig(
        path=path,
        server=server_settings(raw.server),
        lanes=lanes,
        halls={hall.id: _hall(raw, hall, lanes) for hall in raw.halls},
        voice_cache=_voice_cache(raw.voice),
    )


def _lane(lane: LaneRaw) -> LaneConfig:
    return LaneConfig(lane.id, lane.name, lane.name_en, lane.rank, frozenset(lane.issued_by))


def _hall(raw: ConfigRaw, hall: HallRaw, lanes: dict[str, LaneConfig]) -> HallConfig:
    queues = {queue.id: _queue(queue) for queue in hall.queues}
    return HallConfig(
        id=hall.id,
        name=hall.name,
        name_en=hall.name_en,
        org_name=hall.org_name,
        org_name_en=hall.org_name_en,
        timezone=hall.timezone,
        tz=ZoneInfo(hall.timezone),
        hours=business_hours(layered(HoursRaw, raw.hours, hall.hours)),
        rules=HallRules(**layered(RulesRaw, raw.rules, hall.rules).model_dump(exclude_none=True)),
        zones={zone.id: ZoneConfig(**zone.model_dump()) for zone in hall.zones},
        queues=queues,
        windows={window.id: _window(window) for window in hall.windows},
        services={s.code: _service(s) for s in raw.services if s.queue in queues},
        lanes=_hall_lanes(hall, lanes),
        notice=hall.notice,
        show_staff_name=hall.show_staff_name,
        announce=_announce(raw, hall),
        ticket_texts=_ticket_texts(raw, hall),
        voice=_voice(raw, hall),
        display=_display(hall),
    )


def _queue(queue: QueueRaw) -> QueueConfig:
    policy = QueuePolicy(queue.policy, queue.interleave, queue.normal_max_wait_min * 60)
    stop = parse_time(queue.stop_issuing) if queue.stop_issuing is not None else None
    return QueueConfig(
        id=queue.id,
        prefix=queue.prefix,
        name=queue.name,
        name_en=queue.name_en,
        zone=queue.zone,
        daily_cap=queue.daily_cap,
        stop_issuing=stop,
        policy=policy,
    )


def _window(window: WindowRaw) -> WindowConfig:
    return WindowConfig(**{**window.model_dump(), "queues": tuple(window.queues)})


def _service(service: ServiceRaw) -> ServiceConfig:
    return ServiceConfig(**{**service.model_dump(), "materials": tuple(service.materials)})


def _hall_lanes(hall: HallRaw, lanes: dict[str, LaneConfig]) -> dict[str, LaneConfig]:
    def lane(lane: LaneConfig) -> LaneConfig:
        override = hall.lanes.get(lane.id)
        return replace(lane, issued_by=frozenset(override.issued_by)) if override else lane

    return {lane_id: lane(config) for lane_id, config in lanes.items()}


def _announce(raw: ConfigRaw, hall: HallRaw) -> AnnounceConfig:
    merged = layered(AnnounceRaw, raw.announce, hall.announce)
    return replace(DEFAULT_ANNOUNCE, **merged.model_dump(exclude_none=True))


def _ticket_texts(raw: ConfigRaw, hall: HallRaw) -> TicketTexts:
    merged = layered(TicketTextsRaw, raw.ticket_texts, hall.ticket_texts)
    values = {key: tuple(lines) for key, lines in merged.model_dump(exclude_none=True).items()}
    return replace(DEFAULT_TICKET_TEXTS, **values)


def _voice(raw: ConfigRaw, hall: HallRaw) -> VoiceConfig:
    values = hall_voice(raw.voice, hall.voice).model_dump(exclude_none=True)
    if "clips_dir" in values:
        values["clips_dir"] = Path(values["clips_dir"])
    if "clips_phrases" in values:
        values["clips_phrases"] = tuple(values["clips_phrases"].items())
    return VoiceConfig(**values)


def _display(hall: HallRaw) -> DisplayConfig:
    d = hall.display
    notice = d.notice if d.notice is not None else hall.notice
    return DisplayConfig(notice, d.notice_en or "", d.english, d.show_staff)


def _voice_cache(top: VoiceTopRaw) -> VoiceCacheConfig:
    folder = Path(top.cache_dir) if top.cache_dir else None
    if top.cache_mb is None:
        return VoiceCacheConfig(folder)
    return VoiceCacheConfig(folder, top.cache_mb)
