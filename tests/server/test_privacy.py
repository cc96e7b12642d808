"""R13: no ID numbers, mobile numbers, names or priority categories where they must not be.

A busy morning (every lane, calls, recalls, a no-show and requeue, transfers, a pause, an
evaluation whose comment holds an ID and a mobile number, refused requests, expiry at closing)
then scans the audit rows, the outbox events, the snapshot and the hallq log text.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from server.domain.privacy import MOBILE_MASK, NUMBER_MASK, redact
from server.services.setup import expire_all
from server.storage.ids import new_id
from server.storage.tables import evaluations, outbox
from tests.conftest import Hall
from tests.server.support import ID_NUMBER, MOBILE, audit_rows, cheap_passwords

ID_NO = "460027199001011234"
ID_NO_X = "46002719900101123X"
PHONE = "13812345678"
W = "/halls/jinjiang/windows"


@pytest.fixture(autouse=True)
def _cheap_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    cheap_passwords(monkeypatch)


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        (f"我的身份证{ID_NO}，电话{PHONE}", f"我的身份证{NUMBER_MASK}，电话{MOBILE_MASK}"),
        (f"证件 {ID_NO_X} 已办", f"证件 {NUMBER_MASK} 已办"),
        (f"id {ID_NO_X.lower()}.", f"id {NUMBER_MASK}."),
        ("电话 138 1234 5678 或 139-1234-5678", f"电话 {MOBILE_MASK} 或 {MOBILE_MASK}"),
        (f"+86{PHONE}", MOBILE_MASK),
        (f"+86 {PHONE[:3]}-{PHONE[3:7]}-{PHONE[7:]}", MOBILE_MASK),
        ("卡号6222020200112233445", f"卡号{NUMBER_MASK}"),
        ("等了20分钟，A001号，3号窗口，2026-11-27", "等了20分钟，A001号，3号窗口，2026-11-27"),
        ("服务很好", "服务很好"),
        ("", ""),
    ],
)
def test_redact(text: str, kept: str) -> None:
    """redact masks ID, card and mobile numbers and leaves ordinary text and short numbers."""
    out = redact(text)
    assert out == kept
    assert not ID_NUMBER.search(out) and not MOBILE.search(out)


def test_ids_never_look_like_personal_numbers() -> None:
    """Ticket, staff and device ids and epochs (in events and audit rows) never match R13."""
    ids = [new_id() for _ in range(20_000)] + [new_id(16) for _ in range(20_000)]
    assert len(set(ids)) == len(ids)
    assert not any(ID_NUMBER.search(i) or MOBILE.search(i) or "1" in i for i in ids)


def priority_words(hall: Hall) -> list[str]:
    """Ids and names (zh, en) of every priority lane, plus the generic words."""
    words = ["优先", "priority", "军人", "老年", "残疾", "孕"]
    for lane in hall.config.hall("jinjiang").lanes.values():
        if lane.id != "normal":
            words += [lane.id, lane.name, lane.name_en]
    return words


async def ok(hall: Hall, path: str, who: str, body: Any = None) -> dict[str, Any]:
    r = await hall.post(path, who, body)
    assert r.status_code in (200, 201), r.text
    return dict(r.json())


async def busy_morning(hall: Hall) -> None:
    """Every lane issued, called, recalled, missed, requeued, transferred, paused, rated."""
    tickets = [await hall.issue("social"), await hall.issue("social", lane="elderly")]
    for lane in ("military", "disabled", "pregnant", "appointment", "elderly"):
        tickets.append(await hall.issue("social", who="guide", lane=lane))
    await hall.issue(who="kiosk", service="S01")
    await hall.issue("project")
    await hall.issue("market", who="guide", lane="military")
    # window 1: call (military first), recall, start, finish, rating with personal numbers
    first = await hall.call_next("1")
    hall.clock.advance(25)
    await ok(hall, f"{W}/1/recall", "w1")
    await ok(hall, f"{W}/1/start", "w1")
    await ok(hall, f"{W}/1/finish", "w1", {"outcome": "accepted"})
    comment = f"身份证{ID_NO}，手机{PHONE}，请回电 139 1234 5678"
    body = {"rating": 1, "reasons": [f"回电{PHONE}"], "comment": comment}
    await ok(hall, f"/tickets/{first['id']}/evaluation", "evaluator1", body)
    # window 2: no-show, requeue, call by number
    missed = await hall.call_next("2")
    await ok(hall, f"{W}/2/no-show", "w2")
    await ok(hall, f"/tickets/{missed['id']}/requeue", "guide")
    # window 3: transfer to project, called at window 7
    await hall.call_next("3")
    await ok(hall, f"{W}/3/transfer", "w3", {"queue": "project"})
    await hall.call_next("7")
    await ok(hall, f"{W}/7/finish", "w7")
    # window 4: pause with a phone number in the reason, resume
    await ok(hall, f"{W}/4/pause", "w4", {"reason": f"外出，有事请打{PHONE}"})
    await ok(hall, f"{W}/4/resume", "w4")
    await ok(hall, f"{W}/4/pause", "w4", {"reason": f"系统故障 证件{ID_NO_X}"})
    # clerk signs in at window 5 and works through a few tickets
    await ok(hall, f"{W}/5/open", "clerk")
    for _ in range(3):
        await ok(hall, f"{W}/5/call-next", "clerk", {"finish_current": True})
    await ok(hall, f"{W}/5/no-show", "clerk")
    await ok(hall, f"{W}/13/call-next", "manager", {})
    # refused requests are audited too
    await hall.post("/halls/jinjiang/tickets", "kiosk", {"queue": "social", "lane": "military"})
    await hall.client.post("/api/v1/halls/jinjiang/tickets", json={"queue": "social"})
    await hall.post(f"{W}/5/call-next", "w3", {})
    await hall.get(f"/tickets/{tickets[0]['id']}", "kiosk_laocheng")
    # closing time: what still waits expires (logged, and one event per ticket)
    hall.clock.set(datetime(2026, 11, 27, 17, 31, tzinfo=ZoneInfo("Asia/Shanghai")))
    assert await expire_all(hall.app.state.hallq.commands) > 0


async def test_no_personal_data_or_categories(hall: Hall, caplog: pytest.LogCaptureFixture) -> None:
    """Audit rows, events, snapshot and logs hold no ID/mobile numbers; events and snapshot
    name no priority category; the stored comment is masked."""
    caplog.set_level(logging.DEBUG, logger="hallq")
    await busy_morning(hall)
    snap = (await hall.get("/halls/jinjiang/snapshot", "display")).json()
    async with hall.db.read() as conn:
        events = [
            dict(r._mapping) for r in await conn.execute(select(outbox.c.name, outbox.c.data))
        ]
        rated = (await conn.execute(select(evaluations))).one()
    audits = await audit_rows(hall)
    assert len(events) > 40 and len(audits) > 30 and any(r["outcome"] != "ok" for r in audits)
    assert {"ticket.expired", "ticket.transferred", "ticket.requeued"} <= {
        e["name"] for e in events
    }
    assert "hallq.setup" in {r.name for r in caplog.records}

    texts = {
        "audit": "\n".join(repr(row) for row in audits),
        "events": json.dumps(events, ensure_ascii=False),
        "snapshot": json.dumps(snap, ensure_ascii=False),
        "log": caplog.text,
        "evaluation": repr(dict(rated._mapping)),
    }
    for where, text in texts.items():
        assert not ID_NUMBER.findall(text), where
        assert not MOBILE.findall(text), where
        assert "王小明" not in text, where  # staff names only masked (王**) on screens
    for where in ("events", "snapshot"):
        for word in priority_words(hall):
            assert word not in texts[where], (where, word)
    assert rated.rating == 1 and rated.comment.count(MOBILE_MASK) == 2
    assert NUMBER_MASK in rated.comment and rated.reasons == [f"回电{MOBILE_MASK}"]
    paused = next(w for w in snap["windows"] if w["id"] == "4")
    assert paused["reason"] == f"系统故障 证件{NUMBER_MASK}"
