"""Business hours and times of day: ``"08:30"`` and ``"08:30-12:00"`` texts, parsed and checked."""

from __future__ import annotations

import itertools
import re
from datetime import time

from server.config.problems import Problem
from server.config.schema import HoursRaw
from server.domain.model import BusinessHours

HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
DEFAULT_HOURS = BusinessHours()
Session = tuple[time, time]


def parse_time(text: str) -> time | None:
    """``"17:00"`` as a time; None unless it is a 24-hour ``HH:MM``."""
    match = HHMM.match(text.strip())
    return time(int(match[1]), int(match[2])) if match else None


def parse_session(text: str) -> Session | None:
    """``"08:30-12:00"`` as (start, end); None when either side is not ``HH:MM``."""
    start, sep, end = text.partition("-")
    first, last = parse_time(start), parse_time(end)
    return (first, last) if sep and first and last else None


def business_hours(hours: HoursRaw) -> BusinessHours:
    """The domain value of checked hours (defaults for keys not set)."""
    days = frozenset(hours.days) if hours.days is not None else DEFAULT_HOURS.days
    if hours.sessions is None:
        return BusinessHours(days=days)
    sessions = tuple(s for s in map(parse_session, hours.sessions) if s)
    return BusinessHours(days=days, sessions=sessions)


def hours_problems(hours: HoursRaw, days_path: str, sessions_path: str) -> list[Problem]:
    """What is wrong with the days and sessions of one hall's effective hours."""
    problems = _days_problems(hours.days, days_path) if hours.days is not None else []
    if hours.sessions is not None:
        problems += _sessions_problems(hours.sessions, sessions_path)
    return problems


def _days_problems(days: list[int], path: str) -> list[Problem]:
    problems = [
        Problem(
            path,
            f"{day} is not an ISO weekday; expected 1 (Monday) to 7 (Sunday)",
            "use 1-7, e.g. days = [1, 2, 3, 4, 5] for Monday to Friday",
        )
        for day in days
        if not 1 <= day <= 7
    ]
    if not days:
        problems.append(
            Problem(path, "no opening day", "list the ISO weekdays, e.g. [1, 2, 3, 4, 5]")
        )
    if len(set(days)) != len(days):
        problems.append(Problem(path, f"a day is listed twice in {days}", "list each day once"))
    return problems


def _sessions_problems(texts: list[str], path: str) -> list[Problem]:
    if not texts:
        return [Problem(path, "no session", 'add one, e.g. sessions = ["08:30-12:00"]')]
    problems: list[Problem] = []
    sessions: list[Session] = []
    for index, text in enumerate(texts):
        session = parse_session(text)
        if session is None:
            problems.append(
                Problem(
                    f"{path}[{index}]",
                    f'"{text}" is not a session "HH:MM-HH:MM"',
                    'write it with a 24-hour clock and two digits, e.g. "08:30-12:00"',
                )
            )
        elif session[1] <= session[0]:
            problems.append(
                Problem(
                    f"{path}[{index}]",
                    f'session "{text}" ends at or before it starts',
                    "make the end later than the start (sessions cannot cross midnight)",
                )
            )
        else:
            sessions.append(session)
    return problems + _order_problems(sessions, path)


def _order_problems(sessions: list[Session], path: str) -> list[Problem]:
    return [
        Problem(
            path,
            f"sessions overlap or are out of order ({_text(before)} then {_text(after)})",
            "list the sessions in time order without overlap",
        )
        for before, after in itertools.pairwise(sessions)
        if after[0] < before[1]
    ]


def _text(session: Session) -> str:
    return f'"{session[0]:%H:%M}-{session[1]:%H:%M}"'


def stop_issuing_problem(text: str, hours: BusinessHours, path: str) -> Problem | None:
    """A problem when ``stop_issuing`` is not ``HH:MM`` or falls outside every session."""
    stop = parse_time(text)
    if stop is None:
        return Problem(path, f'"{text}" is not a time "HH:MM"', 'write e.g. stop_issuing = "17:00"')
    if any(start < stop <= end for start, end in hours.sessions):
        return None
    sessions = ", ".join(_text(s) for s in hours.sessions)
    return Problem(
        path,
        f'"{text}" is outside the business hours ({sessions})',
        "pick a time inside a session (after it opens, at the latest when it closes)",
    )
