"""The guide desk's lookup: GET /halls/{hall}/tickets?number=A005 (and who issued a ticket)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from server.storage.tables import tickets
from tests.conftest import Hall
from tests.server.support import assert_error, audit_rows, cheap_passwords

FIND = "/halls/jinjiang/tickets?number="


@pytest.fixture(autouse=True)
def _cheap_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    cheap_passwords(monkeypatch)


async def test_guide_finds_a_ticket_by_number(hall: Hall) -> None:
    """The guide gets the ticket numbered A002 today, with its status and people ahead."""
    await hall.issue()
    second = await hall.issue()
    r = await hall.get(FIND + "A002", "guide")
    assert r.status_code == 200, r.text
    found = r.json()
    assert found["id"] == second["id"] and found["number"] == "A002"
    assert found["status"] == "waiting" and found["waiting_ahead"] == 1


async def test_number_is_normalized(hall: Hall) -> None:
    """Lower case and spaces around the number are accepted (what staff type)."""
    first = await hall.issue()
    r = await hall.get(FIND + "%20a001%20", "manager")
    assert r.status_code == 200, r.text
    assert r.json()["id"] == first["id"]


async def test_unknown_number_is_a_chinese_404(hall: Hall) -> None:
    """No ticket with that number today → 404 ticket_not_found naming the number."""
    await hall.issue()
    err = assert_error(await hall.get(FIND + "A099", "guide"), 404, "ticket_not_found")
    assert "A099" in err["message"] and err["details"]["number"] == "A099"


async def test_other_day_is_searched_with_date(hall: Hall) -> None:
    """?date= searches that business day; yesterday's numbers are not today's."""
    await hall.issue()
    yesterday = "2026-11-26"
    err = assert_error(
        await hall.get(FIND + f"A001&date={yesterday}", "guide"), 404, "ticket_not_found"
    )
    assert err["details"]["date"] == yesterday
    r = await hall.get(FIND + "A001&date=2026-11-27", "guide")
    assert r.status_code == 200, r.text


@pytest.mark.parametrize(
    ("query", "field"), [("A-1", "number"), ("", "number"), ("A001&date=27.11.2026", "date")]
)
async def test_bad_input_is_400(hall: Hall, query: str, field: str) -> None:
    """A malformed number or date is 400 naming the field."""
    err = assert_error(await hall.get(FIND + query, "guide"), 400, "validation_error")
    assert field in err["details"]["fields"]


@pytest.mark.parametrize("who", ["kiosk", "display", "clerk", "w1"])
async def test_only_guide_manager_admin_may_look_up(hall: Hall, who: str) -> None:
    """Kiosks, screens, window staff and terminals get 403, and the refusal is audited."""
    await hall.issue()
    assert_error(await hall.get(FIND + "A001", who), 403, "forbidden")
    refused = [a for a in await audit_rows(hall) if a["outcome"] != "ok"]
    assert refused, "the refused lookup must be audited"


async def test_other_halls_credential_is_refused(hall: Hall) -> None:
    """A credential of laocheng-1 cannot look into jinjiang."""
    assert_error(await hall.get(FIND + "A001", "kiosk_laocheng"), 403, "wrong_hall")


async def test_no_token_is_401(hall: Hall) -> None:
    """Without a bearer token the lookup is 401."""
    assert_error(await hall.get(FIND + "A001"), 401, "unauthorized")


async def test_guide_issue_records_the_verifying_staff(hall: Hall) -> None:
    """A priority ticket issued at the guide desk records the guide as issuer and verifier;
    a kiosk's ticket records the kiosk and no verifier."""
    me = await hall.get("/auth/me", "guide")
    guide_id = me.json()["id"]
    priority = await hall.issue(who="guide", lane="military")
    normal = await hall.issue()
    async with hall.db.read() as conn:
        rows = {
            r.id: r
            for r in (
                await conn.execute(select(tickets.c.id, tickets.c.issued_by, tickets.c.verified_by))
            ).all()
        }
    assert rows[priority["id"]].issued_by == f"staff:{guide_id}"
    assert rows[priority["id"]].verified_by == f"staff:{guide_id}"
    assert rows[normal["id"]].issued_by.startswith("device:")
    assert rows[normal["id"]].verified_by is None
    assert priority["channel"] == "guide"
