"""Cross-checks inside one hall: time zone, hours, zones, queues, windows, lanes, voice."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from server.config.checks import (
    ID,
    Known,
    duplicate_problems,
    id_problems,
    template_problems,
    unknown_ref,
)
from server.config.hours import business_hours, hours_problems, stop_issuing_problem
from server.config.problems import Problem, item_path, shown, suggest
from server.config.schema import (
    AnnounceRaw,
    ConfigRaw,
    HallRaw,
    HoursRaw,
    QueueRaw,
    ZoneRaw,
    hall_voice,
    layered,
)
from server.domain.announce import ZH_TEMPLATES
from server.voice import clips

WINDOW_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,15}$")
WINDOW_RULE = 'use letters, digits, - and _ (at most 16), e.g. id = "3" or "G1"'
PREFIX = re.compile(r"^[A-Z]{1,2}$")


def hall_problems(raw: ConfigRaw, hall: HallRaw, index: int, known: Known) -> list[Problem]:
    """Every problem of one hall, in file order."""
    path = item_path("halls", index, hall.id)
    problems = id_problems(f"{path}.id", hall.id, ID) + _timezone(hall.timezone, path)
    problems += _hours(raw, hall, path)
    problems += _zones(hall, path)
    problems += _queues(raw, hall, path, known)
    problems += _windows(hall, path, known)
    problems += _lanes(raw, hall, path, known)
    problems += _display(hall, path)
    return problems + _announce(raw, hall, path) + _voice(raw, hall, path)


def _timezone(name: str, path: str) -> list[Problem]:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        close = suggest(name, available_timezones())
        fix = f'use "{close}"' if close else 'use an IANA name such as "Asia/Shanghai"'
        return [Problem(f"{path}.timezone", f"unknown time zone {shown(name)}", fix)]
    return []


def _hours(raw: ConfigRaw, hall: HallRaw, path: str) -> list[Problem]:
    def where(key: str) -> str:
        return f"{path}.hours.{key}" if getattr(hall.hours, key) is not None else f"hours.{key}"

    hours = layered(HoursRaw, raw.hours, hall.hours)
    return hours_problems(hours, where("days"), where("sessions"))


def _zones(hall: HallRaw, path: str) -> list[Problem]:
    if not hall.zones:
        return [_empty(path, "zones", "zone")]
    problems = duplicate_problems(f"{path}.zones", "zone", [z.id for z in hall.zones])
    for index, zone in enumerate(hall.zones):
        problems += id_problems(f"{item_path(f'{path}.zones', index, zone.id)}.id", zone.id, ID)
    return problems


def _queues(raw: ConfigRaw, hall: HallRaw, path: str, known: Known) -> list[Problem]:
    if not hall.queues:
        return [_empty(path, "queues", "queue")]
    problems = duplicate_problems(f"{path}.queues", "queue", [q.id for q in hall.queues])
    problems += duplicate_problems(
        f"{path}.queues", "queue", [q.prefix for q in hall.queues], key="prefix"
    )
    zones = _options(hall.zones, known.ids(hall.id, "zones"))
    served = {queue for window in hall.windows for queue in window.queues}
    # A window dropped for a type error may serve the queue: don't report it unserved then.
    all_windows_valid = known.ids(hall.id, "windows") <= {w.id for w in hall.windows}
    hours = business_hours(layered(HoursRaw, raw.hours, hall.hours))
    for index, queue in enumerate(hall.queues):
        qpath = item_path(f"{path}.queues", index, queue.id)
        problems += _queue(queue, qpath, zones)
        if queue.stop_issuing is not None:
            problem = stop_issuing_problem(queue.stop_issuing, hours, f"{qpath}.stop_issuing")
            problems += [problem] if problem else []
        if queue.id not in served and hall.windows and all_windows_valid:
            problems.append(_unserved(queue, qpath))
    return problems


def _queue(queue: QueueRaw, path: str, zones: list[str]) -> list[Problem]:
    problems = id_problems(f"{path}.id", queue.id, ID)
    if not PREFIX.match(queue.prefix):
        problems.append(
            Problem(
                f"{path}.prefix",
                f"{shown(queue.prefix)} is not 1-2 uppercase letters",
                'use e.g. prefix = "A" (tickets read A001, A002 …)',
            )
        )
    if queue.zone not in zones:
        problems.append(unknown_ref(f"{path}.zone", "zone", queue.zone, zones, "[[halls.zones]]"))
    if queue.policy == "interleave" and queue.interleave < 1:
        problems.append(
            Problem(
                f"{path}.interleave",
                f"{queue.interleave} priority calls in a row would starve priority lanes",
                'set interleave = 1 or more, or policy = "strict"',
            )
        )
    return problems


def _unserved(queue: QueueRaw, path: str) -> Problem:
    return Problem(
        path,
        f'no window serves queue "{queue.id}"; its tickets would never be called',
        f'add "{queue.id}" to the queues of a [[halls.windows]], or remove the queue',
    )


def _windows(hall: HallRaw, path: str, known: Known) -> list[Problem]:
    if not hall.windows:
        return [_empty(path, "windows", "window")]
    problems = duplicate_problems(f"{path}.windows", "window", [w.id for w in hall.windows])
    numbers = [str(w.number) for w in hall.windows]
    problems += duplicate_problems(f"{path}.windows", "window", numbers, key="number")
    zones = _options(hall.zones, known.ids(hall.id, "zones"))
    queues = _options(hall.queues, known.ids(hall.id, "queues"))
    for index, window in enumerate(hall.windows):
        wpath = item_path(f"{path}.windows", index, window.id)
        problems += id_problems(f"{wpath}.id", window.id, WINDOW_ID, WINDOW_RULE)
        if window.zone not in zones:
            problems.append(
                unknown_ref(f"{wpath}.zone", "zone", window.zone, zones, "[[halls.zones]]")
            )
        problems += _window_queues(window.queues, f"{wpath}.queues", queues)
    return problems


def _window_queues(served: list[str], path: str, queues: list[str]) -> list[Problem]:
    if not served:
        return [
            Problem(path, "the window serves no queue", f"list queues from {', '.join(queues)}")
        ]
    problems = [
        unknown_ref(path, "queue", queue, queues, "[[halls.queues]]")
        for queue in served
        if queue not in queues
    ]
    return problems + duplicate_problems(path, "queue", served, key="entry")


def _lanes(raw: ConfigRaw, hall: HallRaw, path: str, known: Known) -> list[Problem]:
    lanes = sorted({lane.id for lane in raw.lanes} | known.lanes)
    return [
        unknown_ref(f"{path}.lanes.{lane}", "lane", lane, lanes, "[[lanes]]")
        for lane in hall.lanes
        if lane not in lanes
    ]


def _announce(raw: ConfigRaw, hall: HallRaw, path: str) -> list[Problem]:
    merged = layered(AnnounceRaw, raw.announce, hall.announce)
    problems: list[Problem] = []
    for key in ("call", "call_en", "recall", "recall_en", "transfer", "transfer_en"):
        text = getattr(merged, key)
        where = f"{path}.announce" if getattr(hall.announce, key) is not None else "announce"
        problems += template_problems(text, f"{where}.{key}") if text is not None else []
    return problems


def _voice(raw: ConfigRaw, hall: HallRaw, path: str) -> list[Problem]:
    def where(key: str) -> str:
        return f"{path}.voice.{key}" if getattr(hall.voice, key) is not None else f"voice.{key}"

    voice = hall_voice(raw.voice, hall.voice)
    extra = voice.clips_phrases or {}
    problems = [
        Problem(where("clips_phrases"), issue.what, issue.fix)
        for issue in clips.phrase_issues(extra)
    ]
    if voice.engine != "clips" or problems:
        return problems
    if voice.clips_dir is None:
        return [_no_clips_dir(where("engine"), hall.id)]
    return _clips(raw, hall, path, clips.phrase_table(extra), where("clips_dir"), voice.clips_dir)


def _clips(
    raw: ConfigRaw,
    hall: HallRaw,
    path: str,
    phrases: dict[str, str],
    dir_path: str,
    folder: str,
) -> list[Problem]:
    """Every template's words have clips, and the folder holds every clip the hall needs."""
    merged = layered(AnnounceRaw, raw.announce, hall.announce)
    prefixes = [q.prefix for q in hall.queues]
    windows = [w.number for w in hall.windows]
    needed: dict[str, str] = {}
    problems: list[Problem] = []
    for kind, default in ZH_TEMPLATES.items():
        template = getattr(merged, kind) or default
        where = f"{path}.announce" if getattr(hall.announce, kind) is not None else "announce"
        found, issues = clips.needed_clips([template], prefixes, windows, phrases)
        needed |= {token: why for token, why in found.items() if token not in needed}
        problems += [Problem(f"{where}.{kind}", i.what, i.fix) for i in issues]
    issues = clips.folder_issues(Path(folder), needed)
    return problems + [Problem(dir_path, issue.what, issue.fix) for issue in issues]


def _no_clips_dir(path: str, hall_id: str) -> Problem:
    return Problem(
        path,
        'engine "clips" needs the folder of the hall\'s recorded clips',
        f'add clips_dir = "/srv/hallq/clips/{hall_id}" to [halls.voice] (docs/voice.md), '
        'or use engine = "espeak-ng"',
    )


def _options(items: Sequence[ZoneRaw | QueueRaw], written: set[str]) -> list[str]:
    ids = [item.id for item in items]
    return ids + sorted(written - set(ids))


def _display(hall: HallRaw, path: str) -> list[Problem]:
    """The notice runs along one line of the hall screen; it has one source of truth."""
    problems = []
    if hall.display.notice is not None and hall.notice:
        problems.append(
            Problem(
                f"{path}.display.notice",
                "the notice is set twice (halls.notice and halls.display.notice)",
                "keep one: halls.display.notice replaces halls.notice on the screens",
            )
        )
    for key in ("notice", "notice_en"):
        text = getattr(hall.display, key)
        if text and ("\n" in text or "\r" in text):
            problems.append(
                Problem(
                    f"{path}.display.{key}",
                    "the notice has a line break, but it scrolls along a single line",
                    "write it on one line (separate sentences with a space or 。)",
                )
            )
    return problems


def _empty(path: str, key: str, kind: str) -> Problem:
    return Problem(f"{path}.{key}", f"the hall has no {kind}", f"add a [[halls.{key}]] table")
