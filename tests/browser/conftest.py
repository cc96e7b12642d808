"""Browser tests: a real hallq (uvicorn subprocess, SQLite) and Debian's Chromium via Playwright.

Every page is a client of the public contract, so the tests drive them exactly as a hall does:
a device credential in localStorage (what ``/pair/{code}`` leaves behind) or a staff login,
commands through the HTTP API, and assertions on what the page shows.

Chromium is Debian's ``/usr/bin/chromium`` (``scripts/os-deps`` installs it); Playwright never
downloads a browser. Without it these tests skip with the reason printed, and under CI=true
they fail instead.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from server.config import load_config
from server.services.setup import bootstrap
from server.storage.db import Database
from tests.conftest import ROOT, _enroll
from tests.realtime.procs import ServerProcess, all_day_config, free_port, server_process

CHROMIUM = os.environ.get("HALLQ_CHROMIUM", "/usr/bin/chromium")
# The flags that work on these machines: no sandbox as root, no GPU, and no background
# networking (the closed network refuses those connections, many at a time).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",  # the speaker screen plays without a tap
]
ARTIFACTS = ROOT / "tests" / "browser" / "artifacts"  # screenshots of this run (not committed)
SCREENS = ROOT / "docs" / "screens"  # reference screenshots (HALLQ_UPDATE_SCREENS=1 refreshes)
CREDENTIAL_KEY = "hallq.credential"  # localStorage key every page reads its device token from

# The viewports the pages are laid out for.
LANDSCAPE = {"width": 1920, "height": 1080}
PORTRAIT = {"width": 1080, "height": 1920}
SMALL = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}

pytestmark = pytest.mark.browser


def need_chromium() -> str:
    if shutil.which(CHROMIUM) or Path(CHROMIUM).is_file():
        return CHROMIUM
    reason = f"browser tests need Debian's chromium at {CHROMIUM} (scripts/os-deps installs it)"
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@dataclass
class WebHall:
    """A running hallq and the tokens enrolled in it (see tests.conftest._enroll)."""

    server: ServerProcess
    config_path: Path
    database_url: str
    tokens: dict[str, str]

    @property
    def url(self) -> str:
        return self.server.url


@dataclass
class Pages:
    """Opens pages as a given device or staff member, collecting their JavaScript errors."""

    browser: Browser
    hall: WebHall
    errors: list[str] = field(default_factory=list)
    contexts: list[BrowserContext] = field(default_factory=list)

    async def open(
        self,
        path: str,
        who: str | None = None,
        *,
        viewport: dict[str, int] | None = None,
        credential: dict[str, Any] | None = None,
    ) -> Page:
        """``path`` on the server in a fresh context; ``who`` names an enrolled token that is
        put in localStorage as the page's device credential before any script runs."""
        ctx = await self.browser.new_context(viewport=viewport or LANDSCAPE, locale="zh-CN")
        self.contexts.append(ctx)
        if who is not None or credential is not None:
            cred = credential or {"token": self.hall.tokens[who or ""], "hall": "jinjiang"}
            key, value = json.dumps(CREDENTIAL_KEY), json.dumps(json.dumps(cred))
            await ctx.add_init_script(f"localStorage.setItem({key}, {value})")
        page = await ctx.new_page()
        page.on("pageerror", lambda exc: self.errors.append(f"{path}: {exc}"))
        page.on(
            "console",
            lambda msg: (
                self.errors.append(f"{path}: console.error {msg.text}")
                if msg.type == "error"
                else None
            ),
        )
        await page.goto(self.hall.url + path)
        return page

    async def close(self) -> None:
        for ctx in self.contexts:
            await ctx.close()


def keep_reference(path: Path, name: str) -> None:
    """With HALLQ_UPDATE_SCREENS=1, copy a screenshot to docs/screens/ as the committed
    reference (palette-reduced: they live in git). A plain test run never touches docs/."""
    if os.environ.get("HALLQ_UPDATE_SCREENS") != "1":
        return
    from PIL import Image

    SCREENS.mkdir(parents=True, exist_ok=True)
    with Image.open(path) as im:
        small = im.convert("RGB").quantize(colors=128, dither=Image.Dither.NONE)
        small.save(SCREENS / f"{name}.png", optimize=True)


async def shot(page: Page, name: str) -> Path:
    """Save a full-page screenshot under tests/browser/artifacts/ and return its path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=False)
    return path


async def start_web_hall(
    tmp_path: Path, *, terminals: int = 8, edit: Callable[[str], str] | None = None
) -> AsyncIterator[WebHall]:
    """hallq on SQLite under uvicorn; ``edit`` rewrites the config text first (e.g. no recall
    cooldown). The server's log must hold no traceback when the test is done."""
    config_path = all_day_config(tmp_path / "config.toml")
    if edit is not None:
        config_path.write_text(edit(config_path.read_text(encoding="utf-8")), encoding="utf-8")
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'hallq.db'}"
    config = load_config(config_path)
    db = Database(database_url)
    now = datetime.now(UTC)
    try:
        await bootstrap(db, config, now)
        tokens = await _enroll(db, config, now, terminals)
    finally:
        await db.dispose()
    port = free_port()
    env = {"HALLQ_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}"}
    async with server_process(
        config_path, database_url, tokens, tmp_path / "server.log", port=port, extra_env=env
    ) as server:
        yield WebHall(server, config_path, database_url, tokens)
        assert "Traceback" not in server.log_text(), server.log_text()[-3000:]


@pytest.fixture
async def web_hall(tmp_path: Path) -> AsyncIterator[WebHall]:
    """hallq under uvicorn on SQLite, open all day, with jinjiang's devices and staff."""
    async for hall in start_web_hall(tmp_path):
        yield hall


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    executable = need_chromium()
    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            await b.close()


@pytest.fixture
async def pages(browser: Browser, web_hall: WebHall) -> AsyncIterator[Pages]:
    """Open pages as devices; the test fails if any page logged a JavaScript error."""
    p = Pages(browser, web_hall)
    try:
        yield p
    finally:
        await p.close()
    assert not p.errors, "JavaScript errors:\n" + "\n".join(p.errors)
