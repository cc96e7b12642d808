"""The hall screen's Announcer (display/web/lib/voice.js) in Chromium against a real hallq.

``Audio`` and ``speechSynthesis`` are replaced before any script runs by recorders that note
when each sound starts and ends (40 ms later), so the tests see exactly what a hall would hear
and in which order, without sound hardware. Events reach the Announcer over the real websocket.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from datetime import UTC, datetime
from typing import Any

from playwright.async_api import Page

from server.services import auth
from server.storage.db import Database
from tests.browser.conftest import Pages, WebHall

PAGE = "/health/live"  # any page of the server: the test drives the module itself
STUBS = """
window.__plays = [];
window.__failing = [];
const record = (src, done) => {
  const rec = { src, start: performance.now(), end: null };
  window.__plays.push(rec);
  setTimeout(() => { rec.end = performance.now(); done(); }, 40);
};
window.Audio = class {
  constructor(src) { this.src = src; this.duration = NaN; this.handlers = {}; }
  addEventListener(type, fn) { (this.handlers[type] ||= []).push(fn); }
  fire(type) { const fns = this.handlers[type] || []; this.handlers = {}; fns.forEach((f) => f()); }
  pause() {}
  play() {
    if (window.__failing.some((part) => this.src.includes(part))) {
      setTimeout(() => this.fire('error'), 5);
      return Promise.resolve();
    }
    record(this.src, () => this.fire('ended'));
    return Promise.resolve();
  }
};
window.SpeechSynthesisUtterance = class { constructor(text) { this.text = text; } };
Object.defineProperty(window, 'speechSynthesis', {
  configurable: true,
  value: { speak(u) { record('speech:' + u.lang + ':' + u.text, () => u.onend && u.onend()); },
           cancel() {} },
});
"""
# Starts an Announcer for a zone and feeds it every event of the hall's websocket.
START = """
async ([zone, maxAgeMs]) => {
  const { Announcer } = await import('/static/display/lib/voice.js');
  const cred = JSON.parse(localStorage.getItem('hallq.credential'));
  const options = { token: cred.token, hall: 'jinjiang', zone };
  if (maxAgeMs) options.maxAgeMs = maxAgeMs;
  const announcer = new Announcer(options);
  window.__announcer = announcer;
  window.__frames = [];
  await announcer.ready;
  const ws = new WebSocket(`ws://${location.host}/ws`);
  window.__ws = ws;
  await new Promise((resolve) => {
    const hello = { type: 'hello', token: cred.token, hall: 'jinjiang' };
    ws.onopen = () => ws.send(JSON.stringify(hello));
    ws.onmessage = (m) => {
      const frame = JSON.parse(m.data);
      if (frame.type === 'snapshot') resolve();
      if (frame.type === 'event') { window.__frames.push(frame); announcer.handle(frame); }
    };
  });
  return announcer.speaker;
}
"""


async def start(page: Page, zone: str = "social", max_age_ms: int | None = None) -> Any:
    return await page.evaluate(START, [zone, max_age_ms])


async def plays(page: Page) -> list[dict[str, Any]]:
    return list(await page.evaluate("window.__plays"))


async def wait_plays(page: Page, count: int, timeout: float = 20.0) -> list[dict[str, Any]]:
    """The recorded sounds once ``count`` have ended (fails after ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = [p for p in await plays(page) if p["end"] is not None]
        if len(done) >= count:
            await asyncio.sleep(0.3)  # anything beyond `count` would show up now
            return await plays(page)
        await asyncio.sleep(0.05)
    raise AssertionError(f"expected {count} sounds, got {await plays(page)}")


async def call(web_hall: WebHall, window: str, queue: str = "social") -> None:
    r = await web_hall.server.issue(queue)
    assert r.status_code == 201, r.text
    r = await web_hall.server.call_next(window)
    assert r.status_code == 200, r.text


async def open_page(pages: Pages, who: str) -> Page:
    page = await pages.open(PAGE, who)
    await page.add_init_script(STUBS)
    await page.reload()  # the stubs are in place before any module loads
    return page


def kinds(sounds: list[dict[str, Any]]) -> list[str]:
    """Each sound as chime / zh:<number> / en:<number> / speech:…"""
    out = []
    for s in sounds:
        src = s["src"]
        if src.endswith("/chime.wav"):
            out.append("chime")
        elif ".zh." in src or ".en." in src:
            parts = src.rsplit("/", 1)[1].split(".")
            out.append(f"{parts[2]}:{parts[3]}")
        else:
            out.append(src)
    return out


def assert_no_overlap(sounds: list[dict[str, Any]]) -> None:
    for before, after in itertools.pairwise(sounds):
        assert after["start"] >= before["end"], (before, after)


async def test_calls_play_in_order_one_at_a_time(pages: Pages, web_hall: WebHall) -> None:
    """Three quick calls: chime, Chinese twice, English, each in seq order, never overlapping."""
    page = await open_page(pages, "display")
    assert await start(page) is True
    for window in ("1", "2", "3"):
        await call(web_hall, window)
    sounds = await wait_plays(page, 12)
    one = ["chime", "zh:A001", "zh:A001", "en:A001"]
    assert kinds(sounds) == [
        *one,
        *[k.replace("A001", "A002") for k in one],
        *[k.replace("A001", "A003") for k in one],
    ]
    assert_no_overlap(sounds)


async def test_reload_neither_replays_nor_skips(pages: Pages, web_hall: WebHall) -> None:
    """After a reload, calls made while away are played once; those heard before are not."""
    page = await open_page(pages, "display")
    await start(page)
    await call(web_hall, "1")
    await wait_plays(page, 4)
    old_frames = await page.evaluate("window.__frames")
    assert "ticket.called" in [f["name"] for f in old_frames]
    await page.reload()
    await call(web_hall, "2")  # while the screen is away
    await start(page)
    sounds = await wait_plays(page, 4)
    assert kinds(sounds) == ["chime", "zh:A002", "zh:A002", "en:A002"]
    # the same seqs handed in again (a replay after a reconnect) are not played again
    await page.evaluate(
        "(frames) => frames.forEach((f) => window.__announcer.handle(f))", old_frames
    )
    await call(web_hall, "3")
    sounds = await wait_plays(page, 8)
    assert kinds(sounds)[4:] == ["chime", "zh:A003", "zh:A003", "en:A003"]
    assert_no_overlap(sounds)


async def test_only_the_zones_speaker_plays(pages: Pages, web_hall: WebHall) -> None:
    """A screen bound to the zone speaks; the hall-wide screen stays silent for that zone."""
    await enroll_display(web_hall, "social-screen", zone="social")
    silent = await open_page(pages, "display")
    speaker = await open_page(pages, "social-screen")
    assert await start(silent) is False
    assert await start(speaker) is True
    await call(web_hall, "4")
    await wait_plays(speaker, 4)
    await asyncio.sleep(0.5)
    assert await plays(silent) == []


async def test_stale_calls_are_skipped(pages: Pages, web_hall: WebHall) -> None:
    """A call older than the age limit is not announced after a reload; the next one is."""
    page = await open_page(pages, "display")
    await start(page, max_age_ms=1500)
    await call(web_hall, "1")
    await wait_plays(page, 4)
    await page.reload()
    await call(web_hall, "2")  # made while away, and old by the time the screen is back
    await asyncio.sleep(3.0)
    await start(page, max_age_ms=1500)
    await call(web_hall, "3")
    sounds = await wait_plays(page, 4)
    assert kinds(sounds) == ["chime", "zh:A003", "zh:A003", "en:A003"]


async def test_speech_when_audio_fails(pages: Pages, web_hall: WebHall) -> None:
    """A file that fails to load is replaced by the browser's speech, in the same order."""
    page = await open_page(pages, "display")
    await start(page)
    await page.evaluate("window.__failing.push('.zh.')")
    await call(web_hall, "5")
    sounds = await wait_plays(page, 4)
    assert kinds(sounds) == [
        "chime",
        "speech:zh-CN:请A零零一号，到五号窗口办理。",
        "speech:zh-CN:请A零零一号，到五号窗口办理。",
        "en:A001",
    ]
    assert_no_overlap(sounds)


async def enroll_display(web_hall: WebHall, name: str, zone: str) -> None:
    db = Database(web_hall.database_url)
    try:
        async with db.write() as conn:
            d = await auth.add_device(
                conn,
                hall="jinjiang",
                role="display",
                name=name,
                window=None,
                zone=zone,
                now=datetime.now(UTC),
            )
    finally:
        await db.dispose()
    web_hall.tokens[name] = d.token
