"""The hall screen (综合屏) and window screen (窗口屏) in Chromium against a real hallq.

What a hall sees: a call shows on both screens within a second; the stale banner when the
server dies and its clearing when it is back; after a cut link the screen holds exactly the
server's snapshot; the layouts at the sizes they are made for (screenshots saved under
tests/browser/artifacts/) with every text at WCAG AA contrast; never a lane or a name.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest
from playwright.async_api import Browser, Page

from server.client.state import comparable
from server.config import load_config
from server.services.setup import bootstrap
from server.storage.db import Database
from tests.browser.conftest import (
    LANDSCAPE,
    PORTRAIT,
    SMALL,
    Pages,
    WebHall,
    shot,
)
from tests.browser.contrast import low_contrast
from tests.conftest import _enroll
from tests.realtime.procs import (
    all_day_config,
    free_port,
    personal_data_hits,
    server_process,
)
from tests.support.fault_proxy import FaultProxy

pytestmark = pytest.mark.browser

HALL_SCREEN = "/display/hall/jinjiang/social"
CALL_DEADLINE_S = 1.0
SOCIAL_WINDOWS = ("1", "2", "3", "4", "5", "6")

SYNCED = "() => !!(window.hallqScreen && window.hallqScreen.live.state)"
NOT_STALE = "() => !!(window.hallqScreen && window.hallqScreen.live.stale === false)"
BANNER_SHOWN = (
    "() => { const b = document.getElementById('hallq-stale-banner'); return !!b && !b.hidden; }"
)


def forgive_refused_sockets(pages: Pages, *also: str) -> None:
    """Drop Chromium's own log lines about refused connections (and the ``also`` texts).

    A test that kills the server or cuts the link makes the browser log each refused
    reconnection attempt (and any request of the page meanwhile) as a console error; no
    script can prevent that, and it is what the test wants to happen. Every other console
    error or page error still fails the test.
    """
    expected = ("net::ERR_CONNECTION_REFUSED", *also)
    pages.errors[:] = [e for e in pages.errors if not any(x in e for x in expected)]


async def synced(page: Page, timeout_ms: float = 10_000) -> None:
    await page.wait_for_function(SYNCED, timeout=timeout_ms)


async def page_state(page: Page) -> dict[str, Any]:
    state: dict[str, Any] = await page.evaluate("() => window.hallqScreen.live.state")
    return state


async def issue(web_hall_or_server: Any, n: int = 1, queue: str = "social") -> list[str]:
    server = getattr(web_hall_or_server, "server", web_hall_or_server)
    numbers = []
    for _ in range(n):
        r = await server.issue(queue)
        assert r.status_code == 201, r.text
        numbers.append(r.json()["number"])
    return numbers


async def call(server: Any, window: str) -> str:
    r = await server.call_next(window)
    assert r.status_code == 200, r.text
    ticket = r.json()["ticket"]
    assert ticket is not None, f"window {window} found nothing to call"
    return str(ticket["number"])


async def shown_windows(page: Page) -> dict[str, tuple[str, str]]:
    """What the hall screen's rows show: window id → (ticket number, state word)."""
    rows: list[list[str]] = await page.evaluate(
        """() => [...document.querySelectorAll('.window-row')].map((r) => [
            r.dataset.window, r.querySelector('.window-ticket').textContent, r.dataset.state])"""
    )
    return {w: (number, kind) for w, number, kind in rows}


# -- a call reaches both screens ----------------------------------------------------------


async def test_a_call_shows_on_the_hall_and_window_screens_within_a_second(
    pages: Pages, web_hall: WebHall
) -> None:
    hall_page = await pages.open(HALL_SCREEN, "display")
    window_page = await pages.open("/display/window/jinjiang/3", "display")
    await asyncio.gather(synced(hall_page), synced(window_page))
    [number] = await issue(web_hall)

    started = time.monotonic()
    r = await web_hall.server.call_next("3")
    assert r.status_code == 200, r.text
    left_ms = max(1.0, (CALL_DEADLINE_S - (time.monotonic() - started)) * 1000)
    await asyncio.gather(
        hall_page.wait_for_function(
            """(n) => document.getElementById('latest').dataset.number === n
                && document.querySelector('.window-row[data-window="3"] .window-ticket')
                       .textContent === n""",
            arg=number,
            timeout=left_ms,
        ),
        window_page.wait_for_function(
            """(n) => { const c = document.getElementById('current');
                        return c.dataset.number === n && c.dataset.state === 'called'; }""",
            arg=number,
            timeout=left_ms,
        ),
    )
    elapsed = time.monotonic() - started
    assert elapsed < CALL_DEADLINE_S, f"the call took {elapsed:.3f} s to reach the screens"

    assert await hall_page.text_content("#latest-text") == "请到 3号窗口 办理"
    assert await hall_page.locator("#latest.fresh").count() == 1  # highlighted
    assert await window_page.text_content("#current-text") == f"请 {number} 号到本窗口"


async def test_screens_show_numbers_and_windows_only(pages: Pages, web_hall: WebHall) -> None:
    s = web_hall.server
    # An elderly-lane ticket issued at the guide desk: the lane must not reach any screen.
    r = await s.post("/halls/jinjiang/tickets", "guide", {"queue": "social", "lane": "elderly"})
    assert r.status_code == 201, r.text
    await issue(web_hall, 2)
    await s.post("/halls/jinjiang/windows/1/open", "clerk", {})
    for window in ("1", "2"):
        await call(s, window)
    await s.post("/halls/jinjiang/windows/2/no-show", "w2", {})
    hall_page = await pages.open(HALL_SCREEN, "display")
    window_page = await pages.open("/display/window/jinjiang/1", "display")
    await asyncio.gather(synced(hall_page), synced(window_page))
    for page in (hall_page, window_page):
        text = await page.inner_text("body")
        assert not personal_data_hits([text], hall_messages=True), text
        assert "王小明" not in text  # the staff member's name is only ever masked
    assert "王**" in await window_page.inner_text("#staff-text")


# -- the server dies and comes back -------------------------------------------------------


async def test_banner_while_the_server_is_down_then_the_servers_state(
    pages: Pages, web_hall: WebHall, tmp_path: Path
) -> None:
    await issue(web_hall, 3)
    page = await pages.open(HALL_SCREEN, "display")
    await synced(page)
    assert await page.locator("#hallq-stale-banner").is_hidden()

    old = web_hall.server
    old.proc.send_signal(signal.SIGKILL)
    await asyncio.to_thread(old.proc.wait, 10)
    await page.wait_for_function(BANNER_SHOWN, timeout=5_000)
    assert await page.inner_text("#hallq-stale-banner") == "连接中断，正在重连"
    await shot(page, "hall-screen-stale")

    env = {"HALLQ_PUBLIC_BASE_URL": old.url}
    async with server_process(
        web_hall.config_path,
        web_hall.database_url,
        web_hall.tokens,
        tmp_path / "server-restarted.log",
        port=old.port,
        extra_env=env,
    ) as new:
        number = await call(new, "2")  # made while the screen is still reconnecting
        # Back-off is capped at 30 s (full jitter), so the screen is back well within 35 s.
        await page.wait_for_function(NOT_STALE, timeout=35_000)
        await page.wait_for_function(
            "(n) => document.getElementById('latest').dataset.number === n",
            arg=number,
            timeout=5_000,
        )
        assert await page.locator("#hallq-stale-banner").is_hidden()
        server_state = await new.snapshot()
        await page.wait_for_function(
            "(seq) => window.hallqScreen.live.seq === seq", arg=server_state["seq"], timeout=5_000
        )
        assert comparable(await page_state(page)) == comparable(server_state)  # type: ignore[arg-type]
        await page.close()  # before the server stops: no more reconnection attempts to log
    forgive_refused_sockets(pages)


# -- a cut socket and 200 calls -----------------------------------------------------------


@dataclass
class _Via:
    """What ``Pages`` reads of a WebHall, pointing at the proxy instead of the server."""

    url: str
    tokens: dict[str, str]


@pytest.fixture
async def proxied_hall(tmp_path: Path) -> AsyncIterator[tuple[WebHall, FaultProxy]]:
    """hallq behind a FaultProxy; the proxy's origin is the public one so /ws accepts it."""
    config_path = all_day_config(tmp_path / "config.toml")
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'hallq.db'}"
    db = Database(database_url)
    now = datetime.now(UTC)
    try:
        await bootstrap(db, load_config(config_path), now)
        tokens = await _enroll(db, load_config(config_path), now, 8)
    finally:
        await db.dispose()
    port = free_port()
    proxy = FaultProxy("127.0.0.1", port)
    await proxy.start()
    env = {"HALLQ_PUBLIC_BASE_URL": f"http://127.0.0.1:{proxy.port}"}
    try:
        async with server_process(
            config_path, database_url, tokens, tmp_path / "server.log", port=port, extra_env=env
        ) as server:
            yield WebHall(server, config_path, database_url, tokens), proxy
    finally:
        await proxy.stop()


async def test_after_a_cut_link_and_200_calls_the_screen_holds_the_servers_snapshot(
    browser: Browser, proxied_hall: tuple[WebHall, FaultProxy]
) -> None:
    hall, proxy = proxied_hall
    s = hall.server
    # The page is served through the proxy, so its websocket goes through it too.
    via = _Via(f"http://127.0.0.1:{proxy.port}", hall.tokens)
    pages = Pages(browser, cast(WebHall, via))
    try:
        page = await pages.open(HALL_SCREEN, "display")
        await synced(page)

        proxy.reset()
        await proxy.refuse()
        await page.wait_for_function(BANNER_SHOWN, timeout=5_000)

        await issue(s, 200)
        for i in range(200):
            await call(s, SOCIAL_WINDOWS[i % len(SOCIAL_WINDOWS)])
        for window in SOCIAL_WINDOWS[:2]:  # the last two calls become a missed number
            r = await s.post(f"/halls/jinjiang/windows/{window}/no-show", f"w{window}", {})
            assert r.status_code == 200, r.text
        server_state = await s.snapshot()
        assert sum(q["waiting"] for q in server_state["queues"]) == 0

        await proxy.restore()
        await page.wait_for_function(
            "(seq) => window.hallqScreen && window.hallqScreen.live.seq === seq",
            arg=server_state["seq"],
            timeout=35_000,
        )
        await page.wait_for_function(NOT_STALE, timeout=5_000)
        held = await page_state(page)
        assert comparable(held) == comparable(server_state)  # type: ignore[arg-type]

        # …and what it shows is that state.
        expected = {
            w["id"]: (w["ticket"]["number"] if w["ticket"] else "", w["ticket"]["status"])
            for w in server_state["windows"]
            if w["zone"] == "social" and w["ticket"]
        }
        shown = {w: v for w, v in (await shown_windows(page)).items() if v[0]}
        assert shown == expected
        newest = next(c for c in server_state["recent_calls"] if c["window"] in SOCIAL_WINDOWS)
        assert await page.get_attribute("#latest", "data-number") == newest["number"]
        missed = await page.get_attribute("#missed", "data-numbers")
        assert missed == ",".join(n for n in server_state["missed"] if n.startswith(("A", "P")))
        assert await page.text_content('#waiting li[data-queue="social"] .count') == "0"
    finally:
        await pages.close()
    forgive_refused_sockets(pages)
    assert not pages.errors, pages.errors


async def test_a_silent_link_is_noticed_after_15_s_and_replaced(
    browser: Browser, proxied_hall: tuple[WebHall, FaultProxy]
) -> None:
    """Bytes stop flowing but no socket closes: only the 15 s watchdog can tell."""
    hall, proxy = proxied_hall
    pages = Pages(browser, cast(WebHall, _Via(f"http://127.0.0.1:{proxy.port}", hall.tokens)))
    try:
        page = await pages.open(HALL_SCREEN, "display")
        await synced(page)
        proxy.drop()
        dropped = time.monotonic()
        await page.wait_for_function(BANNER_SHOWN, timeout=20_000)
        noticed = time.monotonic() - dropped
        # Heartbeats come every ≤ 5 s, so a live link is never silent for 15 s; a dead one is
        # reported within the watchdog's 0.5 s tick of the 15 s mark.
        assert 13.0 <= noticed <= 17.0, f"silence noticed after {noticed:.1f} s"

        await proxy.restore()
        await page.wait_for_function(NOT_STALE, timeout=35_000)
        await issue(hall.server)
        number = await call(hall.server, "1")
        await page.wait_for_function(
            "(n) => document.getElementById('latest').dataset.number === n", arg=number
        )
    finally:
        await pages.close()
    # The abandoned socket's stream resumes mid-frame when the proxy passes bytes again.
    forgive_refused_sockets(pages, "Invalid frame header")
    assert not pages.errors, pages.errors


# -- layouts, screenshots, contrast -------------------------------------------------------


async def _busy_hall(web_hall: WebHall) -> None:
    """Windows 1-6: called, serving, called (staff signed in), idle, paused, closed; A004
    missed; people waiting in both queues the zone serves."""
    s = web_hall.server
    await issue(web_hall, 12)
    await issue(web_hall, 2, queue="pickup")
    assert (await s.post("/halls/jinjiang/windows/3/open", "clerk", {})).status_code == 200
    for window in ("1", "2", "3", "4", "5"):
        await call(s, window)
    for window, action, body in (
        ("2", "start", {}),
        ("4", "no-show", {}),
        ("5", "finish", {}),
        ("5", "pause", {"reason": "午休"}),
    ):
        r = await s.post(f"/halls/jinjiang/windows/{window}/{action}", f"w{window}", body)
        assert r.status_code == 200, r.text


@pytest.mark.parametrize(
    ("name", "viewport"),
    [("1920x1080", LANDSCAPE), ("1080x1920", PORTRAIT), ("1366x768", SMALL)],
)
async def test_hall_screen_layout(
    pages: Pages, web_hall: WebHall, name: str, viewport: dict[str, int]
) -> None:
    await _busy_hall(web_hall)
    page = await pages.open(HALL_SCREEN, "display", viewport=viewport)
    await synced(page)
    await call(web_hall.server, "1")  # finishes A001 and calls the next one: a fresh call
    await page.wait_for_selector("#latest.fresh", timeout=5_000)
    await page.wait_for_timeout(600)  # fonts settled, one flash step taken
    await shot(page, f"hall-screen-{name}")

    assert await low_contrast(page) == []
    rows = await shown_windows(page)
    assert [rows[w][1] for w in SOCIAL_WINDOWS] == [
        "called",
        "serving",
        "called",
        "idle",
        "paused",
        "closed",
    ]
    states = await page.eval_on_selector_all(
        ".window-state", "(els) => els.map((e) => e.firstChild.textContent)"
    )
    assert states == ["请到窗口办理", "正在办理", "请到窗口办理", "空闲", "暂停服务", "未开放"]
    assert await page.get_attribute("#missed", "data-numbers") == "A004"
    # Nothing overflows the viewport: every element of the screen fits inside it.
    overflow = await page.evaluate(
        """() => [...document.querySelectorAll('#screen *')].filter((e) => {
              if (e.closest('.notice')) return false;   // the notice scrolls by design
              const r = e.getBoundingClientRect();
              return r.width > 0 && (r.right > innerWidth + 1 || r.bottom > innerHeight + 1
                                     || r.left < -1 || r.top < -1);
           }).map((e) => e.className || e.tagName)"""
    )
    assert overflow == []
    clipped = await page.evaluate(
        """() => [...document.querySelectorAll('.window-number, .window-ticket, .window-state,'
                  + ' .latest-number, .latest-text, .earlier li, .chips li, .zone-name,'
                  + ' .clock-time, .clock-date')]
              .filter((e) => e.scrollWidth > e.clientWidth + 1
                             || e.scrollHeight > e.clientHeight + 1)
              .map((e) => e.className + ': ' + e.textContent)"""
    )
    assert clipped == []


async def test_hall_screen_without_motion_highlights_without_flashing(
    browser: Browser, web_hall: WebHall
) -> None:
    ctx = await browser.new_context(
        viewport={"width": 1920, "height": 1080}, reduced_motion="reduce"
    )
    try:
        await ctx.add_init_script(
            "localStorage.setItem('hallq.credential', "
            f"JSON.stringify({{token: '{web_hall.tokens['display']}', hall: 'jinjiang'}}))"
        )
        page = await ctx.new_page()
        await page.goto(web_hall.url + HALL_SCREEN)
        await synced(page)
        await issue(web_hall)
        await call(web_hall.server, "1")
        await page.wait_for_selector("#latest.fresh", timeout=5_000)
        style = await page.eval_on_selector(
            "#latest",
            "(e) => [getComputedStyle(e).animationName, getComputedStyle(e).outlineStyle]",
        )
        assert style == ["none", "solid"]
    finally:
        await ctx.close()


@pytest.mark.parametrize(("name", "viewport"), [("1920x1080", LANDSCAPE), ("1366x768", SMALL)])
async def test_window_screen_layout(
    pages: Pages, web_hall: WebHall, name: str, viewport: dict[str, int]
) -> None:
    await _busy_hall(web_hall)
    serving = await pages.open("/display/window/jinjiang/2", "display", viewport=viewport)
    called = await pages.open("/display/window/jinjiang/3", "display", viewport=viewport)
    paused = await pages.open("/display/window/jinjiang/5", "display", viewport=viewport)
    idle = await pages.open("/display/window/jinjiang/4", "display", viewport=viewport)
    closed = await pages.open("/display/window/jinjiang/6", "display", viewport=viewport)
    for page in (serving, called, paused, idle, closed):
        await synced(page)
    await shot(serving, f"window-screen-serving-{name}")
    await shot(called, f"window-screen-called-{name}")
    await shot(paused, f"window-screen-paused-{name}")

    assert await serving.text_content("#current-text") == "办理中"
    assert await serving.text_content("#current-number") == "A002"
    assert await called.text_content("#current-text") == "请 A003 号到本窗口"
    assert await called.text_content("#current-number") == "A003"
    assert await paused.text_content("#current-text") == "暂停服务"
    assert await idle.text_content("#current-text") == "空闲"
    assert await closed.text_content("#current-text") == "暂停服务"  # nobody is there
    assert await called.text_content("#categories") == "社会事务综合窗口"
    assert await closed.text_content("#categories") == "社会事务综合窗口、制证/出件"
    assert await called.is_visible("#staff") and await serving.is_hidden("#staff")
    for page in (serving, called, paused, idle, closed):
        assert await low_contrast(page) == []
        clipped = await page.evaluate(
            """() => [...document.querySelectorAll('#screen h1, #screen p, #screen h2')]
                  .filter((e) => e.scrollWidth > e.clientWidth + 1)
                  .map((e) => e.id + ': ' + e.textContent)"""
        )
        assert clipped == []


async def test_unpaired_screen_says_how_to_pair(pages: Pages) -> None:
    page = await pages.open(HALL_SCREEN, None)
    await page.wait_for_selector("#problem:not([hidden])")
    assert await page.text_content("#problem-title") == "此屏幕尚未配对"
    assert await low_contrast(page) == []
