"""GET /tickets/{id}/preview.png: the printed layout as a PNG for the issuing kiosk and the
guide desk, never for other devices."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from tests.conftest import Hall
from tests.server.support import assert_error

PNG = b"\x89PNG\r\n\x1a\n"
FRAMED_80MM = 576 + 2 * 16  # printer dots plus the grey frame


@pytest.mark.parametrize(("who", "lang"), [("kiosk", "zh"), ("guide", "zh"), ("kiosk", "en")])
async def test_issuing_kiosk_and_guide_get_the_ticket_picture(
    hall: Hall, who: str, lang: str
) -> None:
    """The kiosk that issued the ticket and the guide get an 80 mm PNG of it."""
    t = await hall.issue(service="S01")
    r = await hall.get(f"/tickets/{t['id']}/preview.png?lang={lang}", who)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/png" and r.content.startswith(PNG)
    image = Image.open(io.BytesIO(r.content))
    assert image.width == FRAMED_80MM and image.height > image.width


@pytest.mark.parametrize(
    ("who", "code"),
    [
        ("display", "forbidden"),
        ("w1", "forbidden"),
        ("clerk", "forbidden"),
        ("kiosk_laocheng", "wrong_hall"),
    ],
)
async def test_other_credentials_are_refused(hall: Hall, who: str, code: str) -> None:
    """Screens, terminals, window staff and other halls' kiosks may not see a ticket."""
    t = await hall.issue()
    assert_error(await hall.get(f"/tickets/{t['id']}/preview.png", who), 403, code)


async def test_a_guide_ticket_is_not_the_kiosks(hall: Hall) -> None:
    """A kiosk sees only the tickets it issued itself."""
    t = await hall.issue(who="guide")
    assert_error(await hall.get(f"/tickets/{t['id']}/preview.png", "kiosk"), 403, "forbidden")


async def test_unknown_ticket_is_404(hall: Hall) -> None:
    """An unknown id is ticket_not_found."""
    assert_error(await hall.get("/tickets/nope/preview.png", "guide"), 404, "ticket_not_found")
