"""The basic ticket flow through the HTTP API, on SQLite and PostgreSQL."""

from __future__ import annotations

from tests.conftest import Hall


async def test_issue_call_start_finish(hall: Hall) -> None:
    """A kiosk ticket is called at window 1, served and finished, with events in seq order."""
    t = await hall.issue("social")
    assert t["number"] == "A001" and t["status"] == "waiting" and t["waiting_ahead"] == 0
    called = await hall.call_next("1")
    assert called["id"] == t["id"] and called["status"] == "called" and called["window"] == "1"
    r = await hall.post("/halls/jinjiang/windows/1/start", "w1")
    assert r.json()["ticket"]["status"] == "serving"
    r = await hall.post("/halls/jinjiang/windows/1/finish", "w1", {"outcome": "accepted"})
    assert r.json()["ticket"]["status"] == "done"
    snap = (await hall.get("/halls/jinjiang/snapshot", "display")).json()
    assert snap["seq"] >= 4
    assert snap["recent_calls"][0]["number"] == "A001"
