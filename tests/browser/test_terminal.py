"""The window terminal (/terminal) driven by keyboard only against a real hallq: staff sign-in,
every window command, a device terminal, double-pressed and held keys, Chinese errors, the
two desktop layouts. After each step both the page and the server's state are checked."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, expect
from sqlalchemy import delete, func, select

from server.storage.db import Database
from server.storage.tables import outbox, staff_sessions
from tests.browser.conftest import LANDSCAPE, SMALL, Pages, WebHall, shot, start_web_hall
from tests.browser.contrast import low_contrast
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

HALL = "jinjiang"


def _no_recall_cooldown(text: str) -> str:
    return re.sub(r"(?m)^recall_cooldown_s = \d+", "recall_cooldown_s = 0", text)


@pytest.fixture
async def web_hall(tmp_path: Path) -> AsyncIterator[WebHall]:
    """conftest's hall, but recalls need no 20 s cooldown (a test cannot wait that long)."""
    async for hall in start_web_hall(tmp_path, edit=_no_recall_cooldown):
        yield hall


# -- the server's side ------------------------------------------------------------------------


async def window(hall: WebHall, wid: str) -> dict[str, Any]:
    snap = await hall.server.snapshot()
    return next(w for w in snap["windows"] if w["id"] == wid)


async def waiting(hall: WebHall, queue: str = "social") -> int:
    snap = await hall.server.snapshot()
    return int(next(q for q in snap["queues"] if q["id"] == queue)["waiting"])


async def ticket(hall: WebHall, ticket_id: str) -> dict[str, Any]:
    r = await hall.server.http.get(
        f"/api/v1/tickets/{ticket_id}", headers=hall.server.auth("manager")
    )
    assert r.status_code == 200, r.text
    return dict(r.json())


async def history(hall: WebHall, wid: str) -> list[tuple[str, str]]:
    r = await hall.server.http.get(
        f"/api/v1/halls/{HALL}/windows/{wid}/history", headers=hall.server.auth("manager")
    )
    assert r.status_code == 200, r.text
    return [(v["number"], v["outcome"]) for v in r.json()["visits"]]


async def issue(hall: WebHall, n: int, queue: str = "social") -> list[dict[str, Any]]:
    tickets = []
    for _ in range(n):
        r = await hall.server.issue(queue)
        assert r.status_code == 201, r.text
        tickets.append(r.json())
    return tickets


async def calls(hall: WebHall) -> int:
    """How many ticket.called events the server committed (every call, by any window)."""
    db = Database(hall.database_url)
    try:
        async with db.read() as conn:
            stmt = select(func.count()).where(outbox.c.name == "ticket.called")
            return int((await conn.execute(stmt)).scalar_one())
    finally:
        await db.dispose()


# -- the page's side --------------------------------------------------------------------------


# Keys of one action share the page's 400 ms debounce (a double press calls once).
_ACTION_OF_KEY = {"F1": "next", " ": "next", "Enter": "next"}
_DEBOUNCE_S = 0.45
_last_press: dict[tuple[int, str], float] = {}


async def press(page: Page, key: str) -> None:
    """One key press, after the previous command has settled (no button busy) and past the
    debounce of the same action: a quick server must not turn a press into a double press."""
    await expect(page.locator('[data-action="pause"]')).to_have_attribute("aria-busy", "false")
    action = (id(page), _ACTION_OF_KEY.get(key, key.lower()))
    since = time.monotonic() - _last_press.get(action, float("-inf"))
    if since < _DEBOUNCE_S:
        await page.wait_for_timeout((_DEBOUNCE_S - since) * 1000)
    _last_press[action] = time.monotonic()
    await page.keyboard.press(key)


async def settled(page: Page) -> None:
    await page.wait_for_timeout(100)  # a press's request starts on keydown; let it begin
    await expect(page.locator('[data-action="pause"]')).to_have_attribute("aria-busy", "false")


async def shows(page: Page, number: str, status: str) -> None:
    await expect(page.locator("#cur-number")).to_have_text(number)
    await expect(page.locator("#cur-status")).to_have_text(status)


async def said(page: Page, text: str, kind: str) -> None:
    box = page.locator("#message")
    await expect(box).to_contain_text(text)
    await expect(box).to_have_class(re.compile(rf"\b{kind}\b"))


async def history_rows(page: Page) -> list[list[str]]:
    rows = await page.locator("#history-rows tr").all()
    return [[c.strip() for c in await r.locator("td").all_inner_texts()][:2] for r in rows]


async def sign_in(page: Page, window_number: str) -> None:
    """The staff login and window pick, typed: username, Tab, password, Enter, window, Enter."""
    await expect(page.locator("#signin")).to_be_visible()
    await expect(page.locator("#login-user")).to_be_focused()
    await page.keyboard.type("clerk")
    await page.keyboard.press("Tab")
    await page.keyboard.type(PASSWORD)
    assert await low_contrast(page) == []
    await shot(page, "terminal-1366-login")
    await page.keyboard.press("Enter")
    await expect(page.locator("#pick")).to_be_visible()
    await expect(page.locator("#pick-input")).to_be_focused()
    await expect(page.locator("#pick-list .pick-window")).to_have_count(20)
    assert await low_contrast(page) == []
    await shot(page, "terminal-1366-pick")
    await page.keyboard.type(window_number)
    await page.keyboard.press("Enter")
    await expect(page.locator("#desk")).to_be_visible()


def expected_refusals(pages: Pages, *statuses: int) -> None:
    """Chromium logs each refused request as a console error; take exactly the expected ones
    off the page-error list (anything else still fails the test)."""
    for status in statuses:
        line = next((e for e in pages.errors if f"status of {status} " in e), None)
        assert line is not None, (status, pages.errors)
        pages.errors.remove(line)


# -- the tests --------------------------------------------------------------------------------


async def test_staff_terminal_flow_by_keyboard(pages: Pages, web_hall: WebHall) -> None:
    """Sign in, take window 1, then call, recall, start, finish with an outcome, call, transfer,
    pause with a reason, resume, call a number and mark a no-show, all by keys."""
    a1, a2, a3 = await issue(web_hall, 3)
    page = await pages.open("/terminal", viewport=SMALL)
    await sign_in(page, "1")
    await expect(page.locator("#win-title")).to_have_text("1号窗口")
    await expect(page.locator("#win-status")).to_have_text("服务中")
    await expect(page.locator("#who")).to_contain_text("王小明")
    await expect(page.locator('#waiting-list [data-queue="social"] .q-count')).to_have_text("3 人")
    w = await window(web_hall, "1")
    assert w["status"] == "open" and w["staff"] is not None

    await press(page, "F1")
    await shows(page, "A001", "已呼叫，等待办事人到窗口")
    await said(page, "已呼叫 A001 号", "ok")
    await expect(page.locator('#waiting-list [data-queue="social"] .q-count')).to_have_text("2 人")
    assert (await window(web_hall, "1"))["ticket"]["number"] == "A001"
    assert await waiting(web_hall) == 2

    await press(page, "r")
    await expect(page.locator("#cur-recalls")).to_have_text("1 次")
    assert (await ticket(web_hall, a1["id"]))["recalls"] == 1

    await press(page, "s")
    await shows(page, "A001", "正在办理")
    await expect(page.locator("#next-label")).to_have_text("办结并叫下一位")
    assert (await ticket(web_hall, a1["id"]))["status"] == "serving"

    await press(page, "f")
    await expect(page.locator("#picker")).to_be_visible()
    await expect(page.locator("#picker-options")).to_contain_text("补正材料")
    await page.keyboard.press("4")
    await shows(page, "空闲", "请按 F1 叫下一位")
    t1 = await ticket(web_hall, a1["id"])
    assert (t1["status"], t1["outcome"]) == ("done", "supplement")
    await expect(page.locator("#history-rows tr")).to_have_count(1)
    assert await history_rows(page) == [["A001", "补正材料"]]

    await press(page, " ")
    await shows(page, "A002", "已呼叫，等待办事人到窗口")
    assert (await ticket(web_hall, a2["id"]))["status"] == "called"

    await press(page, "t")
    await expect(page.locator("#picker-options")).to_contain_text("工程建筑综合窗口")
    await page.keyboard.press("2")  # queues in hall order: social, project, …
    await expect(page.locator("#cur-number")).to_have_text("空闲")
    t2 = await ticket(web_hall, a2["id"])
    assert (t2["status"], t2["queue"], t2["number"]) == ("waiting", "project", "A002")
    assert await waiting(web_hall, "project") == 1
    await expect(page.locator("#history-rows tr")).to_have_count(2)
    assert (await history_rows(page))[0] == ["A002", "转办"]

    await press(page, "p")
    await expect(page.locator("#picker-title")).to_have_text("暂停服务：请选择原因")
    await page.keyboard.press("1")
    await expect(page.locator("#win-status")).to_have_text("暂停服务：临时离开")
    await expect(page.locator("#pause-label")).to_have_text("恢复服务")
    w = await window(web_hall, "1")
    assert (w["status"], w["reason"]) == ("paused", "临时离开")

    await press(page, "F1")  # paused: the page says why and calls nobody
    await said(page, "窗口暂停服务中", "info")
    assert await calls(web_hall) == 2

    await press(page, "p")
    await expect(page.locator("#win-status")).to_have_text("服务中")
    assert (await window(web_hall, "1"))["status"] == "open"

    await press(page, "c")
    await expect(page.locator("#picker-input")).to_be_focused()
    await page.keyboard.type("a003")
    await page.keyboard.press("Enter")
    await shows(page, "A003", "已呼叫，等待办事人到窗口")
    t3 = await ticket(web_hall, a3["id"])
    assert (t3["status"], t3["window"], t3["call_reason"]) == ("called", "1", "specific")
    await expect(page.locator('#waiting-list [data-queue="social"] .q-count')).to_have_text("0 人")

    await shot(page, "terminal-1366-serving")
    await press(page, "n")
    await shows(page, "空闲", "当前没有等候的办事人")
    assert (await ticket(web_hall, a3["id"]))["status"] == "no_show"
    assert (await web_hall.server.snapshot())["missed"] == ["A003"]
    await expect(page.locator("#history-rows tr")).to_have_count(3)
    assert await history_rows(page) == [["A003", "过号"], ["A002", "转办"], ["A001", "补正材料"]]
    assert await history(web_hall, "1") == [
        ("A003", "no_show"),
        ("A002", "transferred"),
        ("A001", "supplement"),
    ]
    await expect(page.locator("#history-count")).to_have_text("共 3 人")
    assert await low_contrast(page) == []
    await shot(page, "terminal-1366")

    await page.locator("#signout").click()
    await expect(page.locator("#signin")).to_be_visible()
    assert (await window(web_hall, "1"))["status"] == "closed"
    assert await page.evaluate("sessionStorage.getItem('hallq.staff')") is None


async def test_device_terminal_flow(pages: Pages, web_hall: WebHall) -> None:
    """A paired terminal goes straight to its own window; F1 on a serving ticket ends it
    (completed) and calls the next; finishing with key 2 records 办结."""
    a1, a2 = await issue(web_hall, 2)
    page = await pages.open("/terminal", "w2", viewport=LANDSCAPE)
    await expect(page.locator("#desk")).to_be_visible()
    await expect(page.locator("#win-title")).to_have_text("2号窗口")
    await expect(page.locator("#who")).to_contain_text("终端")
    await expect(page.locator("#signout")).to_be_hidden()
    await expect(page.locator('#waiting-list [data-queue="social"] .q-count')).to_have_text("2 人")

    await press(page, "Enter")
    await shows(page, "A001", "已呼叫，等待办事人到窗口")
    await press(page, "s")
    await shows(page, "A001", "正在办理")
    await page.wait_for_timeout(500)  # Enter and F1 are one action: past its debounce
    await press(page, "F1")
    await shows(page, "A002", "已呼叫，等待办事人到窗口")
    t1 = await ticket(web_hall, a1["id"])
    assert (t1["status"], t1["outcome"]) == ("done", "completed")
    assert (await window(web_hall, "2"))["ticket"]["number"] == "A002"
    await expect(page.locator("#history-rows tr")).to_have_count(1)

    await press(page, "s")
    await press(page, "f")
    await page.keyboard.press("2")
    await shows(page, "空闲", "当前没有等候的办事人")
    t2 = await ticket(web_hall, a2["id"])
    assert (t2["status"], t2["outcome"]) == ("done", "completed")
    assert await history(web_hall, "2") == [("A002", "completed"), ("A001", "completed")]
    await expect(page.locator("#history-rows tr")).to_have_count(2)

    await issue(web_hall, 4)
    await press(page, "F1")
    await shows(page, "A003", "已呼叫，等待办事人到窗口")
    await press(page, "r")
    await expect(page.locator("#cur-recalls")).to_have_text("1 次")
    assert await low_contrast(page) == []
    await shot(page, "terminal-1920")
    await press(page, "t")
    await expect(page.locator("#picker")).to_be_visible()
    assert await low_contrast(page) == []
    await shot(page, "terminal-1920-transfer")
    await page.keyboard.press("Escape")
    await expect(page.locator("#picker")).to_be_hidden()
    assert (await window(web_hall, "2"))["ticket"]["number"] == "A003"


async def test_double_and_held_keys_call_one_ticket(pages: Pages, web_hall: WebHall) -> None:
    """A call key pressed twice fast, held down (auto-repeat), or fired twice in one script
    turn calls exactly one ticket each time."""
    await issue(web_hall, 5)
    page = await pages.open("/terminal", "w1", viewport=SMALL)
    await expect(page.locator('#waiting-list [data-queue="social"] .q-count')).to_have_text("5 人")

    await page.keyboard.press("F1")
    await page.keyboard.press("F1")
    await shows(page, "A001", "已呼叫，等待办事人到窗口")
    await settled(page)
    assert (await calls(web_hall), await waiting(web_hall)) == (1, 4)

    await press(page, "s")
    await shows(page, "A001", "正在办理")
    await page.wait_for_timeout(500)  # a new press, past the debounce of the first ones
    await page.keyboard.down("F1")
    for _ in range(5):
        await page.keyboard.down("F1")  # auto-repeat: keydown with repeat = true
    await page.keyboard.up("F1")
    await shows(page, "A002", "已呼叫，等待办事人到窗口")
    await settled(page)
    assert (await calls(web_hall), await waiting(web_hall)) == (2, 3)

    await press(page, "s")
    await shows(page, "A002", "正在办理")
    await page.wait_for_timeout(500)
    await page.evaluate(
        """() => {
            for (let i = 0; i < 2; i += 1) {
                document.dispatchEvent(new KeyboardEvent('keydown', {key: 'F1', bubbles: true}));
            }
        }"""
    )
    await shows(page, "A003", "已呼叫，等待办事人到窗口")
    await page.wait_for_timeout(600)  # past the debounce: a late second request would show
    await settled(page)
    assert (await calls(web_hall), await waiting(web_hall)) == (3, 2)
    assert (await window(web_hall, "1"))["ticket"]["number"] == "A003"


async def test_errors_are_shown_in_chinese(pages: Pages, web_hall: WebHall) -> None:
    """Nothing waiting shows the empty state; a busy window and a recall past the limit show
    the server's Chinese message; a wrong password is refused in Chinese."""
    page = await pages.open("/terminal", "w1", viewport=SMALL)
    await expect(page.locator("#cur-status")).to_have_text("当前没有等候的办事人")
    await press(page, "F1")
    await said(page, "当前没有等候的办事人", "info")
    assert await calls(web_hall) == 0

    await issue(web_hall, 2)
    await expect(page.locator("#cur-status")).to_have_text("请按 F1 叫下一位")
    await page.wait_for_timeout(500)  # past the debounce of the first F1
    await press(page, "F1")
    await shows(page, "A001", "已呼叫，等待办事人到窗口")
    await page.wait_for_timeout(500)  # the same key again is a new press only after the debounce
    await press(page, "F1")  # called, not yet served: the server refuses (409 window_busy)
    await said(page, "本窗口的 A001 号尚未办结", "error")
    for n in (1, 2):
        await page.wait_for_timeout(500)
        await press(page, "r")
        await expect(page.locator("#cur-recalls")).to_have_text(f"{n} 次")
    await page.wait_for_timeout(500)
    await press(page, "r")
    await said(page, "已达最大重呼次数", "error")
    t = (await window(web_hall, "1"))["ticket"]
    assert (t["number"], t["recalls"]) == ("A001", 2)
    assert await calls(web_hall) == 1
    await shot(page, "terminal-1366-error")

    login = await pages.open("/terminal", viewport=SMALL)
    await page.close()
    await login.locator("#login-user").fill("clerk")
    await login.locator("#login-pass").fill("wrong-password")
    await login.keyboard.press("Enter")
    await expect(login.locator("#login-error")).to_contain_text("用户名或密码")
    assert await login.evaluate("sessionStorage.getItem('hallq.staff')") is None
    expected_refusals(pages, 409, 409, 401)


async def test_staff_session_survives_reload_not_expiry(pages: Pages, web_hall: WebHall) -> None:
    """A reload keeps the signed-in window (sessionStorage); once the session is gone the
    next press returns to the login form saying why, and nothing is called."""
    await issue(web_hall, 1)
    page = await pages.open("/terminal", viewport=SMALL)
    await sign_in(page, "3")
    await page.reload()
    await expect(page.locator("#win-title")).to_have_text("3号窗口")
    await expect(page.locator("#history-count")).to_have_text("共 0 人")  # its reads are done
    assert (await window(web_hall, "3"))["status"] == "open"

    db = Database(web_hall.database_url)
    try:
        async with db.write() as conn:
            await conn.execute(delete(staff_sessions))
    finally:
        await db.dispose()
    await expect(page.locator('#waiting-list [data-queue="social"] .q-count')).to_have_text("1 人")
    await press(page, "F1")
    await expect(page.locator("#signin")).to_be_visible()
    await expect(page.locator("#login-note")).to_have_text("登录已失效，请重新登录。")
    assert await page.evaluate("sessionStorage.getItem('hallq.staff')") is None
    assert await calls(web_hall) == 0
    expected_refusals(pages, 401)
