"""The kiosk page /kiosk/{hall}: 3 taps to a ticket, elderly mode, English, every refusal
shown for real, the printer-offline fallback and the idle return, on a real hallq."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import websockets
from playwright.async_api import Page, expect

from tests.browser.conftest import (
    LANDSCAPE,
    PORTRAIT,
    Pages,
    WebHall,
    keep_reference,
    shot,
    start_web_hall,
)
from tests.browser.contrast import low_contrast
from tests.realtime.procs import (
    PRIORITY_WORDS,
    server_process,
    stop_process,
)

pytestmark = pytest.mark.browser
KIOSK = "/kiosk/jinjiang"


async def taps(page: Page) -> None:
    """Count every tap (pointerdown) the test makes, in window.__taps."""
    await page.evaluate(
        "window.__taps = 0; document.addEventListener('pointerdown', () => window.__taps++, true)"
    )


async def tap(page: Page, selector: str) -> None:
    await page.locator(selector).first.click()


async def ready(page: Page) -> None:
    await expect(page.locator("#screen-start")).to_be_visible()
    await expect(page.locator("#categories .k-tile").first).to_be_visible()


def forgive_http_errors(pages: Pages, *statuses: int) -> None:
    """Chromium logs every failed fetch as a console error; the refusals these tests cause on
    purpose are removed from the collected errors (only those statuses, nothing else)."""
    wanted = [f"status of {s} (" for s in statuses]
    pages.errors[:] = [
        e
        for e in pages.errors
        if not ("Failed to load resource" in e and any(w in e for w in wanted))
    ]


async def test_three_taps_normal_ticket_in_portrait(pages: Pages, web_hall: WebHall) -> None:
    """Category then service: a ticket in 2 taps, number, people ahead, wait and status QR on
    screen, the preview of the printed ticket beside them; nothing about a lane."""
    await web_hall.server.issue("social")  # one ahead
    page = await pages.open(KIOSK, "kiosk", viewport=PORTRAIT)
    await ready(page)
    await taps(page)
    p = await shot(page, "kiosk-portrait-start")
    keep_reference(p, "kiosk-portrait-start")
    await tap(page, '[data-queue="social"]')
    await expect(page.locator("#screen-services")).to_be_visible()
    await tap(page, '[data-service="S01"]')
    await expect(page.locator("#ticket-number")).to_have_text("A002")
    assert await page.evaluate("window.__taps") == 2
    await expect(page.locator("#ticket-ahead")).to_have_text("您前面还有 1 人等候")
    await expect(page.locator("#ticket-eta")).to_contain_text("预计等候约")
    await expect(page.locator("#ticket-preview")).to_be_visible()
    qr = await page.locator("#ticket-qr").get_attribute("src")
    assert qr and qr.endswith("/qr.svg")
    await expect(page.locator("#printer-warning")).to_be_hidden()
    assert await page.evaluate("document.getElementById('ticket-qr').naturalWidth") > 0
    p = await shot(page, "kiosk-portrait-ticket")
    keep_reference(p, "kiosk-portrait-ticket")
    assert await low_contrast(page) == []
    body = await page.locator("#screen-ticket").inner_text()
    assert not [w for w in PRIORITY_WORDS if w in body.lower()]


async def test_elderly_mode_in_three_taps_landscape(pages: Pages, web_hall: WebHall) -> None:
    """「我已年满60周岁」 + category + service = 3 taps: a ticket in the elderly lane (the server
    says so), large type, spoken prompts captioned, and the category never shown or spoken."""
    page = await pages.open(KIOSK, "kiosk", viewport=LANDSCAPE)
    await ready(page)
    await taps(page)
    normal_size = await page.evaluate(
        "parseFloat(getComputedStyle(document.querySelector('.k-tile-name')).fontSize)"
    )
    await tap(page, "#senior-button")
    await expect(page.locator("html")).to_have_class(re.compile(r"\bsenior\b"))
    await expect(page.locator("#voice-line")).to_have_text("请选择要办理的业务类别。")
    senior_size = await page.evaluate(
        "parseFloat(getComputedStyle(document.querySelector('.k-tile-name')).fontSize)"
    )
    assert senior_size >= normal_size * 1.2
    p = await shot(page, "kiosk-landscape-elderly")
    keep_reference(p, "kiosk-landscape-elderly")
    assert await low_contrast(page) == []
    await tap(page, '[data-queue="social"]')
    await tap(page, '[data-service="S03"]')
    number = page.locator("#ticket-number")
    await expect(number).to_have_text(re.compile(r"^A\d{3}$"))
    assert await page.evaluate("window.__taps") == 3
    spoken = await page.locator("#voice-line").inner_text()
    assert spoken.startswith("您的号码是，A零零") and not [w for w in PRIORITY_WORDS if w in spoken]
    shown = await page.locator("#screen-ticket").inner_text()
    assert "60" not in shown and not [w for w in PRIORITY_WORDS if w in shown.lower()]
    p = await shot(page, "kiosk-landscape-elderly-ticket")
    keep_reference(p, "kiosk-landscape-elderly-ticket")
    assert await low_contrast(page) == []
    r = await web_hall.server.http.get(
        f"/api/v1/halls/jinjiang/tickets?number={await number.inner_text()}",
        headers=web_hall.server.auth("guide"),
    )
    assert r.status_code == 200 and r.json()["lane"] == "elderly"


async def test_english_in_three_taps(pages: Pages, web_hall: WebHall) -> None:
    """English switch + category + service = 3 taps; every label and the ticket in English."""
    page = await pages.open(KIOSK, "kiosk", viewport=LANDSCAPE)
    await ready(page)
    await taps(page)
    await tap(page, "#lang-toggle")
    await expect(page.locator('[data-queue="social"] .k-tile-name')).to_have_text("Public services")
    p = await shot(page, "kiosk-landscape-english")
    keep_reference(p, "kiosk-landscape-english")
    await tap(page, '[data-queue="social"]')
    await tap(page, '[data-service="S01"]')
    await expect(page.locator("#ticket-number")).to_have_text("A001")
    assert await page.evaluate("window.__taps") == 3
    await expect(page.locator("#ticket-ahead")).to_have_text("No one is ahead of you")
    await expect(page.locator("#ticket-service")).to_have_text("Social insurance enrolment")
    await expect(page.locator("#ticket-preview")).to_be_visible()
    p = await shot(page, "kiosk-landscape-english-ticket")
    keep_reference(p, "kiosk-landscape-english-ticket")
    assert await low_contrast(page) == []


async def test_other_priority_lanes_go_to_the_guide_desk(pages: Pages) -> None:
    """Lanes the kiosk may not issue (military, disabled, pregnant) send the citizen to the
    guide desk, with its place; no ticket is issued."""
    page = await pages.open(KIOSK, "kiosk", viewport=PORTRAIT)
    await ready(page)
    await tap(page, "#other-priority")
    await expect(page.locator("#screen-guide")).to_be_visible()
    await expect(page.locator("#guide-where")).to_have_text("一楼 大厅入口 导办台（19号窗口）")
    p = await shot(page, "kiosk-portrait-guide")
    keep_reference(p, "kiosk-portrait-guide")
    assert await low_contrast(page) == []


async def test_idle_returns_to_start_and_resets(pages: Pages) -> None:
    """Untouched for the idle time (?idle=1 here, 30 s by default) the kiosk goes back to the
    start screen in Chinese, normal mode."""
    page = await pages.open(KIOSK + "?idle=1", "kiosk", viewport=LANDSCAPE)
    await ready(page)
    await tap(page, "#lang-toggle")
    await tap(page, "#senior-button")
    await tap(page, '[data-queue="project"]')
    await expect(page.locator("#screen-services")).to_be_visible()
    await expect(page.locator("#screen-start")).to_be_visible(timeout=5000)
    await expect(page.locator("html")).not_to_have_class(re.compile(r"\bsenior\b"))
    await expect(page.locator("#lang-toggle")).to_have_text("English")


async def report_printer(web_hall: WebHall, printer: dict[str, object]) -> None:
    """What the kiosk agent does: a device.status frame on /ws with the kiosk's token."""
    origin = web_hall.url
    async with websockets.connect(web_hall.server.ws_url, origin=origin) as ws:  # type: ignore[arg-type]
        await ws.send(
            json.dumps({"type": "hello", "token": web_hall.tokens["kiosk"], "hall": "jinjiang"})
        )
        await ws.recv()  # the snapshot
        await ws.send(json.dumps({"type": "device.status", "printer": printer}))
        await asyncio.sleep(0.3)  # the command commits before the socket closes


@pytest.mark.parametrize(
    "printer",
    [
        {"online": True, "paper": "out", "cover_open": False},
        {"online": False, "paper": "ok", "cover_open": False},
        {"online": True, "paper": "ok", "cover_open": True},
    ],
    ids=["paper-out", "offline", "cover-open"],
)
async def test_printer_trouble_shows_the_number_big(
    pages: Pages, web_hall: WebHall, printer: dict[str, object]
) -> None:
    """When this kiosk's printer reports paper out / offline / cover open, the ticket screen
    says 「打印机暂时无法出票，请记住您的号码」 with the number, within 2 s of the tap."""
    page = await pages.open(KIOSK, "kiosk", viewport=PORTRAIT)
    await ready(page)
    await page.wait_for_function("document.documentElement.dataset !== undefined")
    await asyncio.sleep(0.5)  # the page's live connection is up
    await report_printer(web_hall, printer)
    await asyncio.sleep(0.5)
    await tap(page, '[data-queue="social"]')
    started = time.monotonic()
    await tap(page, '[data-service="S01"]')
    await expect(page.locator("#ticket-number")).to_have_text("A001", timeout=2000)
    await expect(page.locator("#printer-warning")).to_have_text(
        "打印机暂时无法出票，请记住您的号码", timeout=2000
    )
    elapsed = time.monotonic() - started
    assert elapsed <= 2.0, f"number on screen {elapsed:.2f} s after the tap"
    # no slip is coming, so no picture of one: 完成 stays on screen without scrolling
    await expect(page.locator("#ticket-preview")).to_be_hidden()
    done = await page.locator(".k-done").bounding_box()
    foot = await page.locator(".k-foot").bounding_box()
    assert done is not None and foot is not None
    assert done["y"] + done["height"] <= foot["y"], "完成 is under the footer"
    if printer["paper"] == "out":
        p = await shot(page, "kiosk-portrait-printer-out")
        keep_reference(p, "kiosk-portrait-printer-out")
    assert await low_contrast(page) == []


# --- refusals, made real ----------------------------------------------------------------------


def refusing(text: str) -> str:
    """jinjiang: social capped at 1 a day, project stopped issuing at 00:01; laocheng-1 closed
    today (its business days are every other weekday)."""
    text = text.replace(
        'id = "social"\nprefix = "A"\n', 'id = "social"\nprefix = "A"\ndaily_cap = 1\n', 1
    )
    text = text.replace(
        'id = "project"\nprefix = "B"\n',
        'id = "project"\nprefix = "B"\nstop_issuing = "00:01"\n',
        1,
    )
    today = datetime.now(ZoneInfo("Asia/Shanghai")).isoweekday()
    other_days = [d for d in range(1, 8) if d != today]
    marker = '[[halls]]\nid = "laocheng-2"'
    assert marker in text
    hours = f'[halls.hours]\ndays = {other_days}\nsessions = ["00:00-23:59"]\n\n'
    # The table belongs to the [[halls]] entry above it: laocheng-1.
    return text.replace(marker, hours + marker, 1)


@pytest.fixture
async def refusing_hall(tmp_path: Path) -> AsyncIterator[WebHall]:
    async for hall in start_web_hall(tmp_path, terminals=2, edit=refusing):
        yield hall


@pytest.fixture
async def refusing_pages(browser, refusing_hall: WebHall) -> AsyncIterator[Pages]:  # type: ignore[no-untyped-def]
    p = Pages(browser, refusing_hall)
    try:
        yield p
    finally:
        await p.close()
    assert not p.errors, "JavaScript errors:\n" + "\n".join(p.errors)


async def refused(page: Page, queue: str, service: str) -> tuple[str, str]:
    await ready(page)
    await tap(page, f'[data-queue="{queue}"]')
    await tap(page, f'[data-service="{service}"]')
    await expect(page.locator("#screen-error")).to_be_visible()
    return (
        await page.locator("#error-title").inner_text(),
        await page.locator("#error-detail").inner_text(),
    )


async def test_daily_cap_reached(refusing_pages: Pages, refusing_hall: WebHall) -> None:
    """The second ticket of a queue capped at 1: 「今日号已取完」 and the server's reason."""
    assert (await refusing_hall.server.issue("social")).status_code == 201
    page = await refusing_pages.open(KIOSK, "kiosk", viewport=PORTRAIT)
    title, detail = await refused(page, "social", "S01")
    assert title == "今日号已取完" and "今日取号已满（1 个）" in detail
    await expect(page.locator("#error-retry")).to_be_hidden()
    p = await shot(page, "kiosk-portrait-error-cap")
    keep_reference(p, "kiosk-portrait-error-cap")
    assert await low_contrast(page) == []
    forgive_http_errors(refusing_pages, 409)


async def test_stop_issuing_time_in_english(refusing_pages: Pages) -> None:
    """After the queue's stop-issuing time, in English: the title and the server's English."""
    page = await refusing_pages.open(KIOSK + "?lang=en", "kiosk", viewport=LANDSCAPE)
    title, detail = await refused(page, "project", "P01")
    assert title == "No more tickets today for this service"
    assert "stops issuing tickets at 00:01" in detail
    p = await shot(page, "kiosk-landscape-error-stopped-en")
    keep_reference(p, "kiosk-landscape-error-stopped-en")
    assert await low_contrast(page) == []
    forgive_http_errors(refusing_pages, 409)


async def test_hall_closed(refusing_pages: Pages) -> None:
    """A hall outside its business days: 「当前不在取号时间」 with the opening hours."""
    cred = {"token": refusing_pages.hall.tokens["kiosk_laocheng"], "hall": "laocheng-1"}
    page = await refusing_pages.open("/kiosk/laocheng-1", viewport=LANDSCAPE, credential=cred)
    await ready(page)
    queue = await page.locator("#categories .k-tile").first.get_attribute("data-queue")
    await tap(page, f'[data-queue="{queue}"]')
    await tap(page, "#services .k-tile")
    await expect(page.locator("#screen-error")).to_be_visible()
    await expect(page.locator("#error-title")).to_have_text("当前不在取号时间")
    await expect(page.locator("#error-detail")).to_contain_text("办公时间")
    forgive_http_errors(refusing_pages, 409)


async def test_server_unreachable_then_retry(
    pages: Pages, web_hall: WebHall, tmp_path: Path
) -> None:
    """With the server stopped: 「暂时连不上服务器，无法取号」 and a retry button; once the server
    is back on the same address, the retry (same Idempotency-Key) gives the ticket."""
    page = await pages.open(KIOSK, "kiosk", viewport=PORTRAIT)
    await ready(page)
    await tap(page, '[data-queue="social"]')
    await stop_process(web_hall.server.proc)
    await tap(page, '[data-service="S01"]')
    await expect(page.locator("#screen-error")).to_be_visible(timeout=15000)
    await expect(page.locator("#error-title")).to_have_text("暂时连不上服务器，无法取号")
    await expect(page.locator("#error-detail")).to_contain_text("导办台")
    await expect(page.locator("#error-retry")).to_be_visible()
    p = await shot(page, "kiosk-portrait-error-offline")
    keep_reference(p, "kiosk-portrait-error-offline")
    assert await low_contrast(page) == []
    env = {"HALLQ_PUBLIC_BASE_URL": web_hall.url}
    async with server_process(
        web_hall.config_path,
        web_hall.database_url,
        web_hall.tokens,
        tmp_path / "server2.log",
        port=web_hall.server.port,
        extra_env=env,
    ):
        await tap(page, "#error-retry")
        await expect(page.locator("#ticket-number")).to_have_text("A001", timeout=10000)
    # The server was gone on purpose: Chromium logs the refused connections.
    pages.errors[:] = [
        e
        for e in pages.errors
        if "ERR_CONNECTION_REFUSED" not in e and "WebSocket connection" not in e
    ]
