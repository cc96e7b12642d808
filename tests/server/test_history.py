"""GET /halls/{hall}/windows/{window}/history: today's ended visits at one window, for the
window terminal; who may read it; and the pure fold of audit steps into visits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from server.services.history import Step, visits
from server.storage.tables import audit
from tests.conftest import FRIDAY_10AM, Hall
from tests.server.support import assert_error, cheap_passwords

W1 = "/halls/jinjiang/windows/1"
W2 = "/halls/jinjiang/windows/2"
VISIT_KEYS = {"number", "outcome", "called_at", "served_at", "ended_at"}


@pytest.fixture(autouse=True)
def _cheap_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    cheap_passwords(monkeypatch)


async def ok(hall: Hall, path: str, who: str, body: Any = None) -> dict[str, Any]:
    r = await hall.post(path, who, body)
    assert r.status_code in (200, 201), r.text
    return dict(r.json())


async def history(hall: Hall, window: str = "1", who: str = "w1") -> dict[str, Any]:
    r = await hall.get(f"/halls/jinjiang/windows/{window}/history", who)
    assert r.status_code == 200, r.text
    return dict(r.json())


def at(seconds: int) -> str:
    return (FRIDAY_10AM + timedelta(seconds=seconds)).isoformat()


async def test_history_lists_ended_visits_newest_first(hall: Hall) -> None:
    """Finish with an outcome, no-show, transfer and finish-by-call-next each end one visit,
    with call, arrival and end times; the visit still open is not listed."""
    for _ in range(5):
        await hall.issue()
    await hall.call_next("1")  # A001 at +0
    hall.clock.advance(30)
    await ok(hall, f"{W1}/start", "w1")  # +30
    hall.clock.advance(60)
    await ok(hall, f"{W1}/finish", "w1", {"outcome": "supplement"})  # +90
    await hall.call_next("1")  # A002 at +90
    hall.clock.advance(10)
    await ok(hall, f"{W1}/no-show", "w1")  # +100
    await hall.call_next("1")  # A003 at +100
    hall.clock.advance(5)
    await ok(hall, f"{W1}/transfer", "w1", {"queue": "project"})  # +105
    await hall.call_next("1")  # A004 at +105
    hall.clock.advance(20)
    await hall.call_next("1", finish_current=True)  # A004 completed, A005 called at +125

    body = await history(hall)
    assert (body["hall"], body["window"], body["business_date"]) == ("jinjiang", "1", "2026-11-27")
    assert [(v["number"], v["outcome"]) for v in body["visits"]] == [
        ("A004", "completed"),
        ("A003", "transferred"),
        ("A002", "no_show"),
        ("A001", "supplement"),
    ]
    assert all(set(v) == VISIT_KEYS for v in body["visits"])
    first = body["visits"][-1]
    assert (first["called_at"], first["served_at"], first["ended_at"]) == (at(0), at(30), at(90))
    missed = body["visits"][-2]
    assert (missed["called_at"], missed["served_at"], missed["ended_at"]) == (
        at(90),
        None,
        at(100),
    )
    assert body["visits"][0]["ended_at"] == at(125)


async def test_history_belongs_to_the_window_that_served(hall: Hall) -> None:
    """A missed ticket called again at window 2 stays a no-show in window 1's history and is
    window 2's visit; a recall does not end a visit; each window sees only its own."""
    await hall.issue()
    await hall.call_next("1")
    hall.clock.advance(21)
    await ok(hall, f"{W1}/recall", "w1")
    await ok(hall, f"{W1}/no-show", "w1")
    await ok(hall, f"{W2}/call", "w2", {"number": "A001"})
    await ok(hall, f"{W2}/finish", "w2", {"outcome": "accepted"})
    assert [(v["number"], v["outcome"]) for v in (await history(hall))["visits"]] == [
        ("A001", "no_show")
    ]
    w2 = (await history(hall, "2", "w2"))["visits"]
    assert [(v["number"], v["outcome"]) for v in w2] == [("A001", "accepted")]
    assert (await history(hall, "3", "manager"))["visits"] == []


async def test_history_is_today_only(hall: Hall) -> None:
    """Visits of an earlier business day are not listed (the day turns at local midnight)."""
    await hall.issue()
    await hall.call_next("1")
    await ok(hall, f"{W1}/finish", "w1")
    assert len((await history(hall))["visits"]) == 1
    hall.clock.set(datetime(2026, 11, 27, 16, 0, 1, tzinfo=UTC))  # 00:00:01 Saturday, Shanghai
    body = await history(hall)
    assert (body["business_date"], body["visits"]) == ("2026-11-28", [])


async def test_history_readers(hall: Hall) -> None:
    """The window's terminal, staff signed in to it, its hall's manager may read it."""
    await ok(hall, f"{W1}/open", "clerk")
    for who in ("w1", "clerk", "manager"):
        assert (await history(hall, "1", who))["visits"] == []


async def test_history_refusals_are_audited(hall: Hall) -> None:
    """Another window's terminal or staff, other roles and halls are refused (and audited);
    no token is 401; an unknown window is 404."""
    await ok(hall, f"{W2}/open", "clerk")
    path = f"{W1}/history"
    assert_error(await hall.get(path, "w2"), 403, "wrong_window")
    assert_error(await hall.get(path, "clerk"), 403, "wrong_window")
    for who in ("display", "kiosk", "evaluator1"):
        assert_error(await hall.get(path, who), 403, "forbidden")
    assert_error(await hall.get(path, "kiosk_laocheng"), 403, "wrong_hall")
    assert_error(await hall.get(path), 401, "unauthorized")
    assert_error(
        await hall.get("/halls/jinjiang/windows/99/history", "manager"), 404, "window_not_found"
    )
    async with hall.db.read() as conn:
        refused = (
            (await conn.execute(select(audit.c.outcome).where(audit.c.action == "rejected")))
            .scalars()
            .all()
        )
    assert sorted(refused) == sorted(
        [
            "wrong_window",
            "wrong_window",
            "forbidden",
            "forbidden",
            "forbidden",
            "wrong_hall",
            "unauthorized",
        ]
    )


def test_visits_fold() -> None:
    """A recall or a start without a call changes nothing; an end without its call (before
    midnight) still lists the visit, without a call time."""
    t0 = FRIDAY_10AM
    steps = [
        Step("ticket.finish", "x", "A009", t0, "consulted"),
        Step("ticket.start", "y", "A010", t0),
        Step("ticket.call_number", "y", "A010", t0 + timedelta(seconds=1)),
        Step("ticket.no_show", "y", "A010", t0 + timedelta(seconds=2)),
    ]
    assert [(v.number, v.outcome, v.called_at) for v in visits(steps)] == [
        ("A010", "no_show", t0 + timedelta(seconds=1)),
        ("A009", "consulted", None),
    ]
