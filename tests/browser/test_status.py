"""The public status page /t/{status_token} on a phone: number, people ahead, the window once
called (within 1 s of a call made through the API), English, and a friendly not-found page."""

from __future__ import annotations

import time

import pytest
from playwright.async_api import expect

from tests.browser.conftest import PHONE, Pages, WebHall, keep_reference, shot
from tests.browser.contrast import low_contrast
from tests.realtime.procs import ID_NUMBER, MOBILE, PRIORITY_WORDS

pytestmark = pytest.mark.browser


async def test_status_page_follows_the_ticket_live(pages: Pages, web_hall: WebHall) -> None:
    """Waiting with 1 ahead, then 「请到 2 号窗口办理」 within 1 s of the call; no lane shown."""
    server = web_hall.server
    await server.issue("social")
    r = await server.post(
        "/halls/jinjiang/tickets", "guide", {"queue": "social", "lane": "elderly"}
    )
    mine = r.json()
    r = await server.post("/halls/jinjiang/tickets", "kiosk", {"queue": "social"})
    mine = r.json()  # A003: two ahead
    page = await pages.open(f"/t/{mine['status_token']}", viewport=PHONE)
    await expect(page.locator("#number")).to_have_text("A003")
    await expect(page.locator("#state")).to_have_text("前面还有 2 人")
    await expect(page.locator("#hall-name")).to_have_text("金江政务服务大厅")
    await page.wait_for_timeout(300)  # the event stream is open
    p = await shot(page, "status-phone-waiting")
    keep_reference(p, "status-phone-waiting")
    assert await low_contrast(page) == []
    await server.call_next("1")
    await expect(page.locator("#state")).to_have_text("前面还有 1 人", timeout=1000)
    await server.call_next("3")
    started = time.monotonic()
    assert (await server.call_next("2")).json()["ticket"]["number"] == "A003"
    await expect(page.locator("#state")).to_have_text("请到 2 号窗口办理", timeout=1000)
    elapsed = time.monotonic() - started
    assert elapsed <= 1.0, f"the call reached the page {elapsed:.2f} s after the API answered"
    p = await shot(page, "status-phone-called")
    keep_reference(p, "status-phone-called")
    assert await low_contrast(page) == []
    text = await page.locator("body").inner_text()
    assert not [w for w in PRIORITY_WORDS if w in text.lower()]
    assert not ID_NUMBER.search(text) and not MOBILE.search(text)


async def test_status_page_in_english(pages: Pages, web_hall: WebHall) -> None:
    """The language switch shows everything in English."""
    t = (await web_hall.server.issue("social")).json()
    page = await pages.open(f"/t/{t['status_token']}", viewport=PHONE)
    await expect(page.locator("#number")).to_have_text("A001")
    await page.locator("#lang-toggle").click()
    await expect(page.locator("#state")).to_have_text("You are next")
    await expect(page.locator("#hall-name")).to_have_text("Jinjiang Government Service Hall")
    p = await shot(page, "status-phone-english")
    keep_reference(p, "status-phone-english")
    assert await low_contrast(page) == []


async def test_unknown_token_is_a_friendly_page(pages: Pages) -> None:
    """An unknown link shows 「未找到该票号」 and its English, never raw JSON."""
    page = await pages.open("/t/" + "z" * 24, viewport=PHONE)
    await expect(page.locator("#not-found")).to_be_visible()
    text = await page.locator("body").inner_text()
    assert "未找到该票号" in text and "Ticket not found" in text and "{" not in text
    p = await shot(page, "status-phone-not-found")
    keep_reference(p, "status-phone-not-found")
    assert await low_contrast(page) == []
    pages.errors[:] = [
        e for e in pages.errors if not ("Failed to load resource" in e and "status of 404 (" in e)
    ]
