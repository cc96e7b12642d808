"""Print jobs: created with a kiosk's ticket, reprinted, delivered, acked, printer status."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from server.domain.errors import Forbidden
from server.services import auth, print_jobs
from server.services.actors import Actor
from server.storage.tables import outbox, tickets
from server.storage.tables import print_jobs as jobs_table
from tests.conftest import Hall


async def _device_id(hall: Hall, who: str) -> str:
    r = await hall.get("/auth/me", who)
    assert r.status_code == 200, r.text
    return str(r.json()["id"])


async def _jobs(hall: Hall) -> list[Any]:
    async with hall.db.read() as conn:
        return list(
            (await conn.execute(select(jobs_table).order_by(jobs_table.c.created_at))).all()
        )


async def _count(hall: Hall, table: Any, *where: Any) -> int:
    async with hall.db.read() as conn:
        return int(
            (await conn.execute(select(func.count()).select_from(table).where(*where))).scalar_one()
        )


async def _actor(hall: Hall, who: str) -> Actor:
    async with hall.db.read() as conn:
        return await auth.authenticate(conn, hall.tokens[who], hall.clock.now())


async def _claim(hall: Hall, device: str, *, resend: bool = False) -> list[print_jobs.Delivery]:
    return await print_jobs.claim(
        hall.db, hall.config, [device], resend=resend, now=hall.clock.now()
    )


async def test_a_kiosk_ticket_gets_a_pending_job_and_a_guide_ticket_none(hall: Hall) -> None:
    """A kiosk's issuing transaction writes one pending job for that kiosk; the guide's none."""
    kiosk = await _device_id(hall, "kiosk")
    ticket = await hall.issue("social", who="kiosk")
    await hall.issue("social", who="guide")
    [job] = await _jobs(hall)
    assert (job.device_id, job.ticket_id, job.hall_id) == (kiosk, ticket["id"], "jinjiang")
    assert (job.status, job.attempts, job.reason) == ("pending", 0, None)


async def test_reprint_makes_a_new_job_for_the_same_ticket_once_per_key(hall: Hall) -> None:
    """Guide reprint: 201 job at the issuing kiosk, no new ticket; the same key replays it."""
    kiosk = await _device_id(hall, "kiosk")
    ticket = await hall.issue("social", who="kiosk")
    path = f"/tickets/{ticket['id']}/reprint"
    first = await hall.post(path, "guide", {}, key="reprint-1")
    again = await hall.post(path, "guide", {}, key="reprint-1")
    assert first.status_code == 201, first.text
    assert again.content == first.content and again.headers["Idempotent-Replayed"] == "true"
    body = first.json()
    assert (body["ticket"], body["device"], body["status"]) == (ticket["id"], kiosk, "pending")
    assert await _count(hall, tickets) == 1
    assert [j.ticket_id for j in await _jobs(hall)] == [ticket["id"], ticket["id"]]


@pytest.mark.parametrize(
    ("who", "status", "code"),
    [
        ("kiosk", 201, None),
        ("manager", 201, None),
        ("kiosk_laocheng", 403, "wrong_hall"),
        ("display", 403, "forbidden"),
        ("clerk", 403, "forbidden"),
        ("w1", 403, "forbidden"),
    ],
)
async def test_who_may_reprint_a_kiosk_ticket(
    hall: Hall, who: str, status: int, code: str | None
) -> None:
    """The issuing kiosk and managers may; another hall's kiosk, screens, clerks, terminals not."""
    ticket = await hall.issue("social", who="kiosk")
    r = await hall.post(f"/tickets/{ticket['id']}/reprint", who, {})
    assert r.status_code == status, r.text
    if code is not None:
        assert r.json()["error"]["code"] == code
        assert len(await _jobs(hall)) == 1


async def test_a_kiosk_reprints_only_its_own_tickets_on_itself(hall: Hall) -> None:
    """A guide's ticket cannot be reprinted by a kiosk, nor a kiosk ticket on another device."""
    guide_ticket = await hall.issue("social", who="guide")
    r = await hall.post(f"/tickets/{guide_ticket['id']}/reprint", "kiosk", {})
    assert (r.status_code, r.json()["error"]["code"]) == (403, "not_issuing_kiosk")
    own = await hall.issue("social", who="kiosk")
    display = await _device_id(hall, "display")
    r = await hall.post(f"/tickets/{own['id']}/reprint", "kiosk", {"device": display})
    assert (r.status_code, r.json()["error"]["code"]) == (403, "not_issuing_kiosk")


async def test_a_guide_ticket_needs_a_kiosk_device_to_print_on(hall: Hall) -> None:
    """No issuing kiosk: 400 naming "device"; a display is not a kiosk (404); a kiosk is fine."""
    ticket = await hall.issue("social", who="guide")
    path = f"/tickets/{ticket['id']}/reprint"
    r = await hall.post(path, "guide", {})
    assert r.status_code == 400 and "device" in r.json()["error"]["details"]["fields"]
    display = await _device_id(hall, "display")
    r = await hall.post(path, "guide", {"device": display})
    assert (r.status_code, r.json()["error"]["code"]) == (404, "device_not_found")
    kiosk = await _device_id(hall, "kiosk")
    r = await hall.post(path, "guide", {"device": kiosk})
    assert r.status_code == 201 and r.json()["device"] == kiosk


async def test_reprint_of_an_unknown_or_finished_ticket_is_refused(hall: Hall) -> None:
    """404 for an unknown ticket; 409 ticket_closed once the visit is over."""
    r = await hall.post("/tickets/nosuchticket/reprint", "guide", {})
    assert r.status_code == 404
    ticket = await hall.issue("social", who="kiosk")
    r = await hall.post(f"/tickets/{ticket['id']}/cancel", "guide", {})
    assert r.status_code == 200, r.text
    r = await hall.post(f"/tickets/{ticket['id']}/reprint", "guide", {})
    assert (r.status_code, r.json()["error"]["code"]) == (409, "ticket_closed")


async def test_claim_sends_a_job_once_and_again_after_a_reconnect(hall: Hall) -> None:
    """A claim marks the job sent with the ticket and layout; only a resend claims it again."""
    kiosk = await _device_id(hall, "kiosk")
    ticket = await hall.issue("social", who="kiosk")
    [delivery] = await _claim(hall, kiosk)
    job = delivery.frame["job"]
    assert delivery.frame["type"] == "print" and job["copies"] == 1
    assert job["ticket"]["number"] == ticket["number"] and job["ticket"]["id"] == ticket["id"]
    assert job["layout"]["hall_name"] == "澄迈县政务服务中心"
    assert job["layout"]["status_url"].endswith("/t/" + ticket["status_token"])
    assert await _claim(hall, kiosk) == []
    [again] = await _claim(hall, kiosk, resend=True)
    assert again.job == delivery.job
    [row] = await _jobs(hall)
    assert (row.status, row.attempts) == ("sent", 2)


async def test_a_job_older_than_its_ttl_fails_instead_of_printing(hall: Hall) -> None:
    """A kiosk back after the job's TTL gets nothing: the job fails with a reason."""
    kiosk = await _device_id(hall, "kiosk")
    await hall.issue("social", who="kiosk")
    hall.clock.advance(print_jobs.JOB_TTL.total_seconds() + 1)
    assert await _claim(hall, kiosk, resend=True) == []
    [row] = await _jobs(hall)
    assert row.status == "failed" and "10" in row.reason


async def test_the_first_ack_decides_and_only_the_owner_may_ack(hall: Hall) -> None:
    """printed, then a failed ack: still printed; another kiosk's ack is refused (audited)."""
    kiosk = await _actor(hall, "kiosk")
    async with hall.db.write() as conn:
        other = await auth.add_device(
            conn, hall="jinjiang", role="kiosk", name="k2", window=None, zone=None,
            now=hall.clock.now(),
        )  # fmt: skip
        intruder = await auth.authenticate(conn, other.token, hall.clock.now())
    await hall.issue("social", who="kiosk")
    [job] = await _jobs(hall)
    commands = hall.app.state.hallq.commands
    ack = {"type": "print.ack", "job": job.id, "status": "printed"}
    with pytest.raises(Forbidden):
        await print_jobs.on_print_ack(commands, intruder, "jinjiang", ack)
    await print_jobs.on_print_ack(commands, kiosk, "jinjiang", ack)
    await print_jobs.on_print_ack(commands, kiosk, "jinjiang", {**ack, "status": "failed"})
    [row] = await _jobs(hall)
    assert (row.status, row.reason) == ("printed", None)


async def test_device_status_is_an_event_only_when_it_changes(hall: Hall) -> None:
    """Three reports, two states: two device.status events with device, name and printer."""
    kiosk = await _actor(hall, "kiosk")
    commands = hall.app.state.hallq.commands
    ok = {"online": True, "paper": "ok", "cover_open": False}
    out = {"online": False, "paper": "out", "cover_open": False}
    for printer in (ok, ok, out):
        frame = {"type": "device.status", "printer": printer}
        await print_jobs.on_device_status(commands, kiosk, "jinjiang", frame)
    async with hall.db.read() as conn:
        rows = (
            await conn.execute(
                select(outbox.c.data).where(outbox.c.name == "device.status").order_by(outbox.c.seq)
            )
        ).all()
    assert [r.data for r in rows] == [
        {"device": kiosk.id, "name": kiosk.name, "printer": ok},
        {"device": kiosk.id, "name": kiosk.name, "printer": out},
    ]
