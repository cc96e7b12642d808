"""Business dates across midnight, ticket numbers, issuing refusals, positions and expiry."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.domain.errors import IssueRefused
from server.domain.model import BusinessHours
from server.domain.numbering import (
    business_date,
    check_issue_allowed,
    format_number,
    front_position,
    issue_position,
    requeue_position,
    should_expire,
)

from .factories import SHANGHAI

HOURS = BusinessHours(
    days=frozenset({1, 2, 3, 4, 5}),
    sessions=((time(8, 30), time(12, 0)), (time(14, 30), time(17, 30))),
)
FRIDAY = date(2026, 11, 27)


def local(d: date, hh: int, mm: int = 0, ss: int = 0, us: int = 0) -> datetime:
    """An aware instant at a Shanghai wall-clock time."""
    return datetime(d.year, d.month, d.day, hh, mm, ss, us, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (datetime(2026, 11, 27, 15, 59, 59, tzinfo=UTC), date(2026, 11, 27)),  # 23:59:59 local
        (datetime(2026, 11, 27, 15, 59, 59, 900000, tzinfo=UTC), date(2026, 11, 27)),
        (datetime(2026, 11, 27, 16, 0, 0, tzinfo=UTC), date(2026, 11, 28)),  # 00:00 local
        (local(FRIDAY, 23, 59, 59, 900000), FRIDAY),
        (local(FRIDAY + timedelta(days=1), 0), FRIDAY + timedelta(days=1)),
        (datetime(2026, 11, 27, 20, 0, tzinfo=UTC), date(2026, 11, 28)),  # UTC still the 27th
    ],
    ids=["utc-15:59:59", "local-23:59:59.9-utc", "utc-16:00", "local-23:59:59.9", "local-00:00",
         "utc-date-behind"],
)  # fmt: skip
def test_business_date_in_shanghai(now: datetime, expected: date) -> None:
    """The business date is the Shanghai calendar date, rolling over at local midnight."""
    assert business_date(now, SHANGHAI) == expected


def test_business_date_rejects_naive() -> None:
    """A naive datetime is refused rather than guessed."""
    with pytest.raises(ValueError, match="timezone-aware"):
        business_date(datetime(2026, 11, 27, 12, 0), SHANGHAI)


@pytest.mark.parametrize(
    ("prefix", "counter", "digits", "expected"),
    [("A", 1, 3, "A001"), ("A", 42, 3, "A042"), ("B", 999, 3, "B999"), ("A", 1000, 3, "A1000"),
     ("Y", 7, 4, "Y0007"), ("", 5, 3, "005")],
)  # fmt: skip
def test_format_number(prefix: str, counter: int, digits: int, expected: str) -> None:
    """Numbers are prefix + zero-padded counter, growing past the padding."""
    assert format_number(prefix, counter, digits) == expected


def test_format_number_rejects_zero() -> None:
    """Counters start at 1."""
    with pytest.raises(ValueError, match="start at 1"):
        format_number("A", 0)


ALLOWED_TIMES = [local(FRIDAY, 8, 30), local(FRIDAY, 12, 30), local(FRIDAY, 17, 29, 59)]
CLOSED_TIMES = [
    local(FRIDAY, 8, 29, 59),
    local(FRIDAY, 17, 30),
    local(FRIDAY, 23, 59, 59),
    local(FRIDAY + timedelta(days=1), 10),  # Saturday
]


@pytest.mark.parametrize("now", ALLOWED_TIMES, ids=["opening", "lunch-break", "last-second"])
def test_issue_allowed_in_hours(now: datetime) -> None:
    """Issuing is open from the first session's start to the last one's end, lunch included."""
    check_issue_allowed(now, SHANGHAI, HOURS, None, None, 0)


@pytest.mark.parametrize("now", CLOSED_TIMES, ids=["before", "closing", "night", "saturday"])
def test_hall_closed(now: datetime) -> None:
    """Outside hours or on a non-business day issuing is refused with hall_closed."""
    with pytest.raises(IssueRefused) as err:
        check_issue_allowed(now, SHANGHAI, HOURS, time(16, 0), 10, 99)
    assert err.value.code == "hall_closed"
    assert err.value.status == 409
    assert err.value.details["sessions"] == [["08:30", "12:00"], ["14:30", "17:30"]]
    assert "办公时间" in err.value.message


@pytest.mark.parametrize(
    ("now", "stop", "cap", "issued", "code"),
    [
        (local(FRIDAY, 16, 0), time(16, 0), None, 0, "issuing_stopped"),
        (local(FRIDAY, 16, 0), time(16, 0), 10, 10, "issuing_stopped"),  # stop checked first
        (local(FRIDAY, 10, 0), time(16, 0), 10, 10, "daily_cap_reached"),
        (local(FRIDAY, 10, 0), None, 0, 0, "daily_cap_reached"),
        (local(FRIDAY, 10, 0), time(16, 0), 10, 9, None),
        (local(FRIDAY, 15, 59, 59), time(16, 0), None, 500, None),
    ],
)
def test_stop_and_cap(
    now: datetime, stop: time | None, cap: int | None, issued: int, code: str | None
) -> None:
    """Issuing stops at the stop-issuing time and at the daily cap, each with its own code."""
    if code is None:
        check_issue_allowed(now, SHANGHAI, HOURS, stop, cap, issued)
        return
    with pytest.raises(IssueRefused) as err:
        check_issue_allowed(now, SHANGHAI, HOURS, stop, cap, issued)
    assert err.value.code == code
    assert err.value.message_en != err.value.message


def test_refusal_messages_say_what_to_do() -> None:
    """Refusals carry a Chinese message with advice and the limit in details."""
    with pytest.raises(IssueRefused) as cap:
        check_issue_allowed(local(FRIDAY, 10), SHANGHAI, HOURS, None, 80, 80)
    assert cap.value.message == "今日取号已满（80 个），请明天再来或咨询导办台。"
    assert cap.value.details == {"daily_cap": 80}
    with pytest.raises(IssueRefused) as stop:
        check_issue_allowed(local(FRIDAY, 17), SHANGHAI, HOURS, time(16, 30), None, 0)
    assert "16:30" in stop.value.message
    assert stop.value.details == {"stop_issuing": "16:30"}


def test_issue_and_front_positions() -> None:
    """New tickets queue by counter; a transfer goes before the smallest waiting position."""
    assert issue_position(7) == 7.0
    assert front_position(None) == 0.0
    assert front_position(3.0) == 2.0
    assert front_position(-1.5) == -2.5


@pytest.mark.parametrize(
    ("positions", "after", "low", "high"),
    [
        ([], 3, None, None),
        ([5.0, 6.0, 7.0, 8.0, 9.0], 3, 7.0, 8.0),
        ([9.0, 5.0, 8.0, 6.0, 7.0], 3, 7.0, 8.0),  # unsorted input
        ([5.0, 6.0], 3, 6.0, None),
        ([5.0, 6.0, 7.0], 3, 7.0, None),
        ([5.0, 6.0], 0, None, 5.0),
    ],
    ids=["empty", "middle", "unsorted", "short", "exactly-after", "front"],
)
def test_requeue_position(
    positions: list[float], after: int, low: float | None, high: float | None
) -> None:
    """A requeued ticket lands after the next ``after`` waiting tickets, or last if fewer."""
    p = requeue_position(positions, after)
    if low is None and high is None:
        assert p == 0.0
    assert low is None or p > low
    assert high is None or p < high


def test_requeue_position_rejects_negative() -> None:
    """A negative ``after`` is a programming error."""
    with pytest.raises(ValueError, match="after"):
        requeue_position([1.0], -1)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(-1000, 1000), unique=True, max_size=40).map(
        lambda xs: [x / 4 for x in xs]
    ),
    st.integers(0, 50),
)
def test_requeue_keeps_exactly_after_ahead(positions: list[float], after: int) -> None:
    """Exactly ``after`` waiting tickets (all of them if fewer) stay ahead of a requeue."""
    p = requeue_position(positions, after)
    ahead = sum(1 for x in positions if x < p)
    assert ahead == min(after, len(positions))
    assert p not in positions


@pytest.mark.parametrize(
    ("ticket_date", "now", "expected"),
    [
        (FRIDAY, local(FRIDAY, 17, 29, 59), False),
        (FRIDAY, local(FRIDAY, 17, 30), True),
        (FRIDAY, local(FRIDAY, 23, 59, 59, 900000), True),
        (FRIDAY, local(FRIDAY + timedelta(days=1), 0), True),  # server was down at closing
        (FRIDAY, local(FRIDAY + timedelta(days=3), 9), True),
        (FRIDAY + timedelta(days=1), local(FRIDAY, 18), False),  # a future date never expires
        (FRIDAY, datetime(2026, 11, 27, 9, 29, 59, tzinfo=UTC), False),  # 17:29:59 local
        (FRIDAY, datetime(2026, 11, 27, 9, 30, tzinfo=UTC), True),
    ],
)
def test_should_expire(ticket_date: date, now: datetime, expected: bool) -> None:
    """Waiting tickets expire at closing on their day, or whenever checked on a later day."""
    assert should_expire(ticket_date, now, SHANGHAI, HOURS) is expected
