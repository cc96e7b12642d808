"""The guide desk /guide/{hall} at 1366×768: sign in, issue in a priority lane, find by
number, re-queue a missed ticket, cancel, reprint — each through the real server."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from tests.browser.conftest import SMALL, Pages, WebHall, keep_reference, shot
from tests.browser.contrast import low_contrast
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


async def signed_in(pages: Pages, user: str = "guide") -> Page:
    page = await pages.open("/guide/jinjiang", viewport=SMALL)
    await expect(page.locator("#login")).to_be_visible()
    p = await shot(page, "guide-login")
    keep_reference(p, "guide-login")
    assert await low_contrast(page) == []
    await page.locator("#username").fill(user)
    await page.locator("#password").fill(PASSWORD)
    await page.locator("#login-form button").click()
    await expect(page.locator("#desk")).to_be_visible()
    return page


async def find(page: Page, number: str) -> None:
    await page.locator("#find-number").fill(number)
    await page.locator("#find-form button").click()
    await expect(page.locator("#found-number")).to_have_text(number.upper())


async def test_issue_in_a_priority_lane_records_it(pages: Pages, web_hall: WebHall) -> None:
    """The guide picks a service and the military lane: the ticket is issued, shown without the
    lane, stored with the lane and the guide as verifier (checked through the lookup)."""
    page = await signed_in(pages)
    await page.locator("#service").select_option("service:S02")
    await page.locator('input[name="lane"][value="military"]').check()
    await page.locator("#issue-form button[type=submit]").click()
    await expect(page.locator("#issued-number")).to_have_text("A001")
    await expect(page.locator("#message")).to_contain_text("已取号 A001")
    assert "军人" not in await page.locator("#issued").inner_text()
    await expect(page.locator('input[name="lane"][value="normal"]')).to_be_checked()
    r = await web_hall.server.http.get(
        "/api/v1/halls/jinjiang/tickets?number=A001", headers=web_hall.server.auth("guide")
    )
    assert r.json()["lane"] == "military" and r.json()["channel"] == "guide"
    p = await shot(page, "guide-issued")
    keep_reference(p, "guide-issued")
    assert await low_contrast(page) == []


async def test_find_requeue_cancel(pages: Pages, web_hall: WebHall) -> None:
    """A missed ticket is found and re-queued; a waiting one is cancelled; unknown numbers get
    the server's Chinese answer."""
    server = web_hall.server
    for _ in range(3):
        await server.issue("social")
    await server.call_next("1")  # A001 called
    no_show = await server.post("/halls/jinjiang/windows/1/no-show", "w1", {})
    assert no_show.status_code == 200, no_show.text
    page = await signed_in(pages)
    await find(page, "A001")
    await expect(page.locator("#found-info")).to_contain_text("已过号")
    await expect(page.locator("#act-cancel")).to_be_disabled()
    await page.locator("#act-requeue").click()
    await expect(page.locator("#message")).to_contain_text("A001 已重新排队")
    await expect(page.locator("#found-info")).to_contain_text("等候中")
    p = await shot(page, "guide-requeued")
    keep_reference(p, "guide-requeued")
    assert await low_contrast(page) == []
    await find(page, "a003")
    page.once("dialog", lambda d: d.accept())
    await page.locator("#act-cancel").click()
    await expect(page.locator("#message")).to_contain_text("A003 已取消")
    await expect(page.locator("#found-info")).to_contain_text("已取消")
    await page.locator("#find-number").fill("A099")
    await page.locator("#find-form button").click()
    await expect(page.locator("#message")).to_contain_text("没有票号 A099")
    pages.errors[:] = [
        e for e in pages.errors if not ("Failed to load resource" in e and "status of 404 (" in e)
    ]


async def test_reprint_shows_the_servers_answer(pages: Pages, web_hall: WebHall) -> None:
    """Reprinting a kiosk's ticket queues a job on that kiosk; the page says so."""
    await web_hall.server.issue("social")
    page = await signed_in(pages)
    await find(page, "A001")
    await page.locator("#act-reprint").click()
    await expect(page.locator("#message")).to_contain_text("已发送重新打印 A001")


async def test_window_staff_cannot_use_the_desk(pages: Pages) -> None:
    """A window clerk's account is refused with a clear message."""
    page = await pages.open("/guide/jinjiang", viewport=SMALL)
    await page.locator("#username").fill("clerk")
    await page.locator("#password").fill(PASSWORD)
    await page.locator("#login-form button").click()
    await expect(page.locator("#login-error")).to_contain_text("不是本大厅的导办台账号")
    await expect(page.locator("#desk")).to_be_hidden()
