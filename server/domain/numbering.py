"""Business dates, ticket numbers, issuing rules, queue positions and expiry at closing.

Positions order the waiting tickets of one call class of a queue. New tickets take their
counter, transfers go before the smallest waiting position, requeues go into the gap after the
next N waiting tickets; floats leave room for that without renumbering anyone.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from server.domain.errors import IssueRefused
from server.domain.model import BusinessHours

_WEEKDAYS_ZH = "一二三四五六日"


def business_date(now: datetime, tz: ZoneInfo) -> date:
    """The hall's business date at ``now``: the calendar date in the hall's time zone.

    Args:
        now: an aware instant (any offset).
        tz: the hall's zone, e.g. ``ZoneInfo("Asia/Shanghai")``.

    Raises:
        ValueError: if ``now`` is naive (its zone would be a guess).
    """
    return _local(now, tz).date()


def format_number(prefix: str, counter: int, digits: int = 3) -> str:
    """The printed and announced number: prefix + zero-padded counter.

    ``("A", 1)`` → ``"A001"``; past the padding it just grows: ``("A", 1000)`` → ``"A1000"``.

    Raises:
        ValueError: if ``counter`` < 1 (counters start at 1 each business day).
    """
    if counter < 1:
        raise ValueError(f"ticket counters start at 1, got {counter}")
    return f"{prefix}{counter:0{digits}d}"


def check_issue_allowed(
    now: datetime,
    tz: ZoneInfo,
    hours: BusinessHours,
    stop_issuing: time | None,
    daily_cap: int | None,
    issued_today: int,
) -> None:
    """Refuse issuing outside hours, after the stop-issuing time or past the daily cap.

    Issuing is open on business days from the first session's start to the last session's
    end, lunch break included: people queue over lunch and are served in the afternoon.

    Args:
        now: the aware instant of the request.
        tz: the hall's time zone.
        hours: business days and sessions.
        stop_issuing: local time from which the queue issues no more tickets, if any.
        daily_cap: most tickets the queue issues per business day, if capped.
        issued_today: tickets the queue already issued today.

    Raises:
        IssueRefused: ``hall_closed``, ``issuing_stopped`` or ``daily_cap_reached`` (checked
            in that order), with a Chinese message saying what to do.
        ValueError: if ``now`` is naive.
    """
    local = _local(now, tz)
    if not _open_for_issuing(local, hours):
        raise _hall_closed(local, hours)
    if stop_issuing is not None and local.time() >= stop_issuing:
        raise _issuing_stopped(stop_issuing)
    if daily_cap is not None and issued_today >= daily_cap:
        raise _cap_reached(daily_cap)


def issue_position(counter: int) -> float:
    """A new ticket's position: its counter, so issue order is call order."""
    return float(counter)


def front_position(min_waiting: float | None) -> float:
    """A position before every waiting ticket of a queue (transfer to the front).

    Args:
        min_waiting: the smallest waiting position in the target queue, None if it is empty.
    """
    return 0.0 if min_waiting is None else min_waiting - 1.0


def requeue_position(waiting_positions: Sequence[float], after: int) -> float:
    """A position with exactly ``after`` of the given waiting tickets ahead of it.

    Args:
        waiting_positions: positions of the waiting tickets the requeued one goes among
            (any order; sorted here).
        after: how many of them stay ahead (the hall's ``requeue_after``, default 3).

    Returns:
        The midpoint between the ``after``-th and the next position; one before the first
        when ``after`` is 0; last + 1 when fewer than ``after + 1`` wait; 0.0 when none wait.
        Equal neighbours leave no gap, so the tie is returned.

    Raises:
        ValueError: if ``after`` is negative.
    """
    if after < 0:
        raise ValueError(f"after must be >= 0, got {after}")
    ordered = sorted(waiting_positions)
    if not ordered:
        return 0.0
    if after >= len(ordered):
        return ordered[-1] + 1.0
    if after == 0:
        return ordered[0] - 1.0
    return (ordered[after - 1] + ordered[after]) / 2.0


def should_expire(ticket_date: date, now: datetime, tz: ZoneInfo, hours: BusinessHours) -> bool:
    """Whether a ticket still waiting should expire: closing time passed on its day.

    Args:
        ticket_date: the ticket's business date.
        now: the aware instant of the check.
        tz: the hall's time zone.
        hours: the hall's sessions; ``hours.closing`` is the end of the last one.

    Returns:
        True once local time reaches closing on the ticket's day, or any time later
        (the business date moved on, e.g. the server was down at closing).

    Raises:
        ValueError: if ``now`` is naive.
    """
    local = _local(now, tz)
    if local.date() != ticket_date:
        return local.date() > ticket_date
    return local.time() >= hours.closing


def _local(now: datetime, tz: ZoneInfo) -> datetime:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(
            f"expected a timezone-aware datetime, got naive {now.isoformat()}; "
            "use Clock.now() (UTC)"
        )
    return now.astimezone(tz)


def _open_for_issuing(local: datetime, hours: BusinessHours) -> bool:
    if local.isoweekday() not in hours.days or not hours.sessions:
        return False
    opening = min(start for start, _ in hours.sessions)
    return opening <= local.time() < hours.closing


def _hall_closed(local: datetime, hours: BusinessHours) -> IssueRefused:
    sessions = [(_hm(a), _hm(b)) for a, b in hours.sessions]
    shown = "、".join(f"{a}–{b}" for a, b in sessions)
    days = "、".join(f"周{_WEEKDAYS_ZH[d - 1]}" for d in sorted(hours.days))
    return IssueRefused(
        f"当前不在办公时间，暂停取号。办公时间：{days} {shown}，请在办公时间内取号。",
        f"The hall is closed now (local {_hm(local.time())}, ISO weekday {local.isoweekday()}); "
        f"it issues tickets on "
        f"ISO weekdays {sorted(hours.days)} between {shown}. Come back then.",
        code="hall_closed",
        details={
            "local_time": local.isoformat(),
            "days": sorted(hours.days),
            "sessions": [list(s) for s in sessions],
        },
    )


def _issuing_stopped(stop: time) -> IssueRefused:
    return IssueRefused(
        f"今日 {_hm(stop)} 后停止取号，请明天再来或咨询导办台。",
        f"This queue stops issuing tickets at {_hm(stop)}; come back tomorrow or ask the "
        "guide desk.",
        code="issuing_stopped",
        details={"stop_issuing": _hm(stop)},
    )


def _cap_reached(cap: int) -> IssueRefused:
    return IssueRefused(
        f"今日取号已满（{cap} 个），请明天再来或咨询导办台。",
        f"Today's {cap} tickets for this queue are all issued; come back tomorrow or ask "
        "the guide desk.",
        code="daily_cap_reached",
        details={"daily_cap": cap},
    )


def _hm(t: time) -> str:
    return t.strftime("%H:%M")
