"""/pair/{code} in Chromium: the credential is stored, the code leaves the URL and history."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from server.services import auth
from server.storage.db import Database
from tests.browser.conftest import CREDENTIAL_KEY, SMALL, Pages, WebHall, shot
from tests.browser.contrast import low_contrast

pytestmark = pytest.mark.browser


async def _enroll_display(web_hall: WebHall, zone: str) -> auth.NewDevice:
    db = Database(web_hall.database_url)
    try:
        async with db.write() as conn:
            return await auth.add_device(
                conn,
                hall="jinjiang",
                role="display",
                name="社会事务区综合屏",
                window=None,
                zone=zone,
                now=datetime.now(UTC),
            )
    finally:
        await db.dispose()


async def test_pairing_stores_the_credential_and_opens_the_screen(
    pages: Pages, web_hall: WebHall
) -> None:
    device = await _enroll_display(web_hall, "social")
    page = await pages.open(f"/pair/{device.pairing_code}")
    await page.wait_for_url("**/display/hall/jinjiang/social", timeout=10_000)
    await page.wait_for_function("() => !!(window.hallqScreen && window.hallqScreen.live.state)")

    stored = json.loads(await page.evaluate(f"localStorage.getItem({json.dumps(CREDENTIAL_KEY)})"))
    assert stored["hall"] == "jinjiang" and stored["role"] == "display"
    assert stored["zone"] == "social" and stored["token"].startswith("hqd_")
    # location.replace: the pairing URL is not in the history to go back to.
    assert device.pairing_code not in page.url
    await page.go_back()
    assert device.pairing_code not in page.url and "/pair/" not in page.url

    # The code was single use: opening the link again explains what to do.
    again = await pages.open(f"/pair/{device.pairing_code}", viewport=SMALL)
    await again.wait_for_selector("body.pair-failed")
    assert await again.text_content("#pair-title") == "配对码无效或已过期"
    assert "hallq device add" in (await again.text_content("#pair-text") or "")
    await shot(again, "pair-error-1366x768")
    assert await low_contrast(again) == []
    # The failed attempt did not leave a credential behind.
    assert await again.evaluate(f"localStorage.getItem({json.dumps(CREDENTIAL_KEY)})") is None
    # The server's 401 for the spent code is a console error Chromium logs on its own.
    pages.errors[:] = [e for e in pages.errors if "401" not in e]
