"""Window work through the HTTP API: recalls, no-shows, requeue, transfer, pause, staff sign-in,
call by number, priority lanes, evaluations and the public status page."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Hall
from tests.server.support import assert_error, cheap_passwords

W1 = "/halls/jinjiang/windows/1"


@pytest.fixture(autouse=True)
def _cheap_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    cheap_passwords(monkeypatch)


async def snapshot(hall: Hall) -> dict[str, Any]:
    r = await hall.get("/halls/jinjiang/snapshot", "display")
    assert r.status_code == 200, r.text
    return dict(r.json())


async def ok(hall: Hall, path: str, who: str, body: Any = None) -> dict[str, Any]:
    r = await hall.post(path, who, body)
    assert r.status_code in (200, 201), r.text
    return dict(r.json())


async def call_order(hall: Hall, n: int, window: str = "1") -> list[tuple[str, str]]:
    """(number, call_reason) of the next ``n`` calls at a window, finishing each one."""
    order = []
    for _ in range(n):
        t = await hall.call_next(window, finish_current=True)
        assert t is not None
        order.append((t["number"], t["call_reason"]))
    return order


async def test_recall_up_to_the_limit(hall: Hall) -> None:
    """A called ticket can be recalled recall_limit (2) times, then 409 recall_limit."""
    await hall.issue()
    await hall.call_next("1")
    for n in (1, 2):
        hall.clock.advance(21)
        t = (await ok(hall, f"{W1}/recall", "w1"))["ticket"]
        assert t["recalls"] == n and t["status"] == "called"
    hall.clock.advance(21)
    err = assert_error(await hall.post(f"{W1}/recall", "w1"), 409, "recall_limit")
    assert err["details"]["limit"] == 2
    assert (await snapshot(hall))["windows"][0]["ticket"]["recalls"] == 2


async def test_recall_cooldown(hall: Hall) -> None:
    """A recall within recall_cooldown_s (20 s) of the last call is 409 recall_cooldown."""
    await hall.issue()
    await hall.call_next("1")
    hall.clock.advance(5)
    err = assert_error(await hall.post(f"{W1}/recall", "w1"), 409, "recall_cooldown")
    assert err["details"]["retry_after"] == 15
    hall.clock.advance(15)
    assert (await ok(hall, f"{W1}/recall", "w1"))["ticket"]["recalls"] == 1
    hall.clock.advance(19)
    err = assert_error(await hall.post(f"{W1}/recall", "w1"), 409, "recall_cooldown")
    assert err["details"]["retry_after"] == 1


async def test_no_show_appears_in_missed(hall: Hall) -> None:
    """A no-show frees the window and its number is listed in the snapshot's missed."""
    await hall.issue()
    await hall.issue()
    await hall.call_next("1")
    t = (await ok(hall, f"{W1}/no-show", "w1"))["ticket"]
    assert t["number"] == "A001" and t["status"] == "no_show"
    snap = await snapshot(hall)
    assert snap["missed"] == ["A001"]
    assert snap["windows"][0]["ticket"] is None
    assert snap["queues"][0]["waiting"] == 1


async def test_requeue_after_three_and_only_once(hall: Hall) -> None:
    """Requeue by the guide puts a missed ticket after the next 3 waiting; a second is 409."""
    first = await hall.issue()
    for _ in range(5):
        await hall.issue()
    await hall.call_next("1")
    await ok(hall, f"{W1}/no-show", "w1")
    t = await ok(hall, f"/tickets/{first['id']}/requeue", "guide")
    assert t["status"] == "waiting" and t["number"] == "A001" and t["waiting_ahead"] == 3
    assert "A001" not in (await snapshot(hall))["missed"]
    assert [n for n, _ in await call_order(hall, 3)] == ["A002", "A003", "A004"]
    assert (await call_order(hall, 1)) == [("A001", "requeue")]
    await ok(hall, f"{W1}/no-show", "w1")
    assert_error(await hall.post(f"/tickets/{first['id']}/requeue", "guide"), 409, "requeue_limit")
    assert (await snapshot(hall))["missed"] == ["A001"]
    assert [n for n, _ in await call_order(hall, 2)] == ["A005", "A006"]


async def test_transfer_keeps_ticket_and_goes_first(hall: Hall) -> None:
    """A transfer keeps id and number; the target queue calls it first, reason transfer."""
    a = await hall.issue("social")
    await hall.issue("project")
    await hall.issue("project")
    await hall.call_next("1")
    await ok(hall, f"{W1}/start", "w1")
    t = (await ok(hall, f"{W1}/transfer", "w1", {"queue": "project"}))["ticket"]
    assert (t["id"], t["number"], t["status"]) == (a["id"], "A001", "waiting")
    assert t["queue"] == "project" and t["window"] is None and t["waiting_ahead"] == 0
    assert (await snapshot(hall))["windows"][0]["ticket"] is None
    called = await hall.call_next("7")
    assert (called["id"], called["number"], called["call_reason"]) == (a["id"], "A001", "transfer")
    assert [n for n, _ in await call_order(hall, 2, "7")] == ["B001", "B002"]


async def test_transfer_to_window(hall: Hall) -> None:
    """A transfer to a window lands in that window's first queue."""
    a = await hall.issue("social")
    await hall.call_next("1")
    t = (await ok(hall, f"{W1}/transfer", "w1", {"window": "7"}))["ticket"]
    assert t["id"] == a["id"] and t["queue"] == "project"


async def test_pause_blocks_calls_until_resume(hall: Hall) -> None:
    """A paused window answers call-next 409 window_paused; after resume it calls again."""
    await hall.issue()
    w = await ok(hall, f"{W1}/pause", "w1", {"reason": "午休"})
    assert (w["status"], w["reason"]) == ("paused", "午休")
    assert (await snapshot(hall))["windows"][0]["status"] == "paused"
    assert_error(await hall.post(f"{W1}/call-next", "w1", {}), 409, "window_paused")
    w = await ok(hall, f"{W1}/resume", "w1")
    assert (w["status"], w["reason"]) == ("open", None)
    assert (await hall.call_next("1"))["number"] == "A001"


async def test_staff_opens_a_window_and_acts_only_there(hall: Hall) -> None:
    """Staff clerk opens window 2 and may then act on window 2 but not on window 3."""
    await hall.issue()
    await hall.issue()
    assert_error(
        await hall.post("/halls/jinjiang/windows/2/call-next", "clerk", {}), 403, "wrong_window"
    )
    w = await ok(hall, "/halls/jinjiang/windows/2/open", "clerk")
    assert (w["id"], w["status"]) == ("2", "open")
    win2 = next(w for w in (await snapshot(hall))["windows"] if w["id"] == "2")
    assert win2["staff"]["name_masked"] == "王**"
    t = (await ok(hall, "/halls/jinjiang/windows/2/call-next", "clerk", {}))["ticket"]
    assert t["window"] == "2"
    r = await hall.post("/halls/jinjiang/windows/3/call-next", "clerk", {})
    assert_error(r, 403, "wrong_window")
    await ok(hall, "/halls/jinjiang/windows/2/finish", "clerk", {"outcome": "consulted"})


async def test_close_refused_while_busy(hall: Hall) -> None:
    """Close is 409 window_busy while a ticket is active, and works once it is finished."""
    await hall.issue()
    await hall.call_next("1")
    assert_error(await hall.post(f"{W1}/close", "w1"), 409, "window_busy")
    await ok(hall, f"{W1}/finish", "w1")
    assert (await ok(hall, f"{W1}/close", "w1"))["status"] == "closed"


async def test_call_missed_ticket_by_number(hall: Hall) -> None:
    """A missed ticket can be called by its number (reason specific) and leaves missed."""
    await hall.issue()
    await hall.issue()
    await hall.call_next("1")
    await ok(hall, f"{W1}/no-show", "w1")
    await hall.call_next("2")
    t = (await ok(hall, f"{W1}/call", "w1", {"number": "a001"}))["ticket"]
    assert (t["number"], t["status"], t["window"], t["call_reason"]) == (
        "A001",
        "called",
        "1",
        "specific",
    )
    snap = await snapshot(hall)
    assert snap["missed"] == []
    assert [c["number"] for c in snap["recent_calls"][:3]] == ["A001", "A002", "A001"]


async def test_interleave_policy_order(hall: Hall) -> None:
    """social is interleave 2: two priority calls (military first), one normal, and so on."""
    assert hall.config.hall("jinjiang").queues["social"].policy.mode == "interleave"
    for _ in range(3):
        await hall.issue("social")  # A001-A003 normal, kiosk
    await hall.issue("social", who="guide", lane="elderly")  # A004
    await hall.issue("social", who="guide", lane="military")  # A005
    await hall.issue("social", who="kiosk", lane="elderly")  # A006: kiosks may issue elderly
    assert await call_order(hall, 6) == [
        ("A005", "priority:military"),
        ("A004", "priority:elderly"),
        ("A001", "fifo"),
        ("A006", "priority:elderly"),
        ("A002", "fifo"),
        ("A003", "fifo"),
    ]


async def test_max_wait_guard(hall: Hall) -> None:
    """A normal ticket waiting past normal_max_wait (30 min) beats later priority tickets."""
    await hall.issue("social")  # A001
    hall.clock.advance(31 * 60)
    await hall.issue("social", who="guide", lane="disabled")  # A002
    await hall.issue("social", who="guide", lane="pregnant")  # A003
    assert await call_order(hall, 3) == [
        ("A001", "guard:max_wait"),
        ("A002", "priority:disabled"),
        ("A003", "priority:pregnant"),
    ]


async def test_evaluation_and_followup(hall: Hall) -> None:
    """evaluator1 rates a visit finished at window 1 (201); rating <= 2 sets a follow-up date."""
    good, bad = await hall.issue(), await hall.issue()
    await hall.call_next("1")
    await ok(hall, f"{W1}/finish", "w1")
    r = await hall.post(f"/tickets/{good['id']}/evaluation", "evaluator1", {"rating": 5})
    assert r.status_code == 201, r.text
    assert r.json() == {"ticket": good["id"], "rating": 5, "followup_due": None}
    await hall.call_next("1")
    await ok(hall, f"{W1}/finish", "w1")
    body = {"rating": 2, "reasons": ["等候时间长"], "comment": "太慢"}
    r = await hall.post(f"/tickets/{bad['id']}/evaluation", "evaluator1", body)
    assert r.status_code == 201, r.text
    # Friday 2026-11-27 + 5 working days = Friday 2026-12-04.
    assert r.json()["followup_due"] == "2026-12-04"


async def test_public_status_page(hall: Hall) -> None:
    """The status page shows exactly five non-personal keys; an unknown token is 404."""
    await hall.issue()
    t = await hall.issue(lane="elderly")
    await hall.issue()
    r = await hall.get(f"/public/tickets/{t['status_token']}")
    assert r.status_code == 200, r.text
    page = r.json()
    assert set(page) == {"number", "status", "waiting_ahead", "window", "estimated_wait_s"}
    assert (page["number"], page["status"], page["window"]) == ("A002", "waiting", None)
    assert page["waiting_ahead"] == 0  # priority lane: ahead of A001
    await hall.call_next("1")
    page = (await hall.get(f"/public/tickets/{t['status_token']}")).json()
    assert (page["status"], page["window"]) == ("called", "1")
    for bad in ("x" * 24, "short", t["status_token"][:-1]):
        assert_error(await hall.get(f"/public/tickets/{bad}"), 404, "ticket_not_found")


async def test_ticket_read_is_hall_bound(hall: Hall) -> None:
    """GET /tickets/{id} works for devices of its hall and is 403 wrong_hall for another's."""
    t = await hall.issue()
    r = await hall.get(f"/tickets/{t['id']}", "display")
    assert r.status_code == 200 and r.json()["number"] == "A001"
    assert_error(await hall.get(f"/tickets/{t['id']}", "kiosk_laocheng"), 403, "wrong_hall")


async def test_pause_again_updates_the_reason(hall: Hall) -> None:
    """Pausing a paused window is allowed and replaces the reason shown on screens."""
    await ok(hall, f"{W1}/pause", "w1", {"reason": "午休"})
    w = await ok(hall, f"{W1}/pause", "w1", {"reason": "系统维护"})
    assert (w["status"], w["reason"]) == ("paused", "系统维护")
    win = (await snapshot(hall))["windows"][0]
    assert (win["status"], win["reason"]) == ("paused", "系统维护")
