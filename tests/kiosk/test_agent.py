"""The kiosk agent against a real hallq (uvicorn) and the virtual printer (R9)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from printer.virtual import VirtualPrinter
from server.client import LiveClient
from tests.kiosk.support import (
    HALL,
    KioskHall,
    eventually,
    kiosk_hall,
    running_agent,
    write_agent_config,
)

STAFF_ALERT_S = 10.0  # R9: job failed + staff alert within 10 s


async def _printed(hall: KioskHall, ticket: dict[str, Any], timeout_s: float = 10.0) -> Any:
    return await hall.wait_job(
        lambda j: j.ticket_id == ticket["id"] and j.status == "printed", timeout_s
    )


async def test_the_agent_prints_a_kiosk_ticket_and_acks_it(tmp_path: Path) -> None:
    """A kiosk's ticket comes out of its printer with its number; the job ends printed."""
    async with kiosk_hall(tmp_path) as hall, VirtualPrinter(tmp_path / "jobs") as printer:
        config = write_agent_config(
            tmp_path / "agent.toml", hall.server.url, hall.tokens["kiosk"], printer.url
        )
        async with running_agent(config) as agent:
            ticket = await hall.issue()
            paper = await printer.next_job(timeout_s=10)
            job = await _printed(hall, ticket)
        assert ticket["number"] in paper.text and "澄迈县政务服务中心" in paper.text
        assert paper.cuts == 1
        assert (job.attempts, job.reason, agent.printed) == (1, None, 1)
        assert len(printer.jobs) == 1


async def test_a_job_issued_while_the_agent_is_offline_prints_when_it_connects(
    tmp_path: Path,
) -> None:
    """No agent at issue time: the job waits pending and prints once the agent says hello."""
    async with kiosk_hall(tmp_path) as hall, VirtualPrinter() as printer:
        ticket = await hall.issue()
        [job] = await hall.jobs()
        assert job.status == "pending"
        config = write_agent_config(
            tmp_path / "agent.toml", hall.server.url, hall.tokens["kiosk"], printer.url
        )
        async with running_agent(config):
            await _printed(hall, ticket)
        assert [ticket["number"] in j.text for j in printer.jobs] == [True]


async def test_paper_out_fails_the_job_alerts_staff_and_a_reprint_reuses_the_ticket(
    tmp_path: Path,
) -> None:
    """Out of paper: job failed with the reason, device.status on the hall channel ≤ 10 s;
    paper back, the guide's reprint prints the same number and no ticket is added."""
    async with kiosk_hall(tmp_path) as hall, VirtualPrinter() as printer:
        config = write_agent_config(
            tmp_path / "agent.toml", hall.server.url, hall.tokens["kiosk"], printer.url
        )
        kiosk_id = await hall.device_id("kiosk")
        async with (
            LiveClient(hall.server.ws_url, hall.tokens["guide"], HALL) as staff,
            running_agent(config),
        ):
            events = staff.events()
            await _wait_status(events, kiosk_id, paper="ok", timeout_s=STAFF_ALERT_S, staff=staff)
            await printer.set_state("paper_out")
            pressed = time.monotonic()
            ticket = await hall.issue()
            failed = await hall.wait_job(lambda j: j.status == "failed", STAFF_ALERT_S)
            await _wait_status(events, kiosk_id, paper="out", timeout_s=STAFF_ALERT_S)
            assert time.monotonic() - pressed <= STAFF_ALERT_S
            assert "缺纸" in failed.reason and "PaperOut" in failed.reason
            assert printer.jobs == []

            await printer.set_state("ok")
            await _wait_status(events, kiosk_id, paper="ok", timeout_s=STAFF_ALERT_S)
            r = await hall.server.post(f"/tickets/{ticket['id']}/reprint", "guide", {})
            assert r.status_code == 201, r.text
            await _printed(hall, ticket)
        assert [ticket["number"] in j.text for j in printer.jobs] == [True]
        assert await hall.ticket_count() == 1
        assert [j.status for j in await hall.jobs()] == ["failed", "printed"]


async def _wait_status(
    events: Any, device: str, *, paper: str, timeout_s: float, staff: LiveClient | None = None
) -> dict[str, Any]:
    """The next device.status event of ``device`` with ``paper``, within ``timeout_s``."""
    async with asyncio.timeout(timeout_s):
        if staff is not None:
            await staff.wait_synced()
        async for event in events:
            data = event["data"]
            if event["name"] == "device.status" and data["device"] == device:
                assert set(data) == {"device", "name", "printer"}
                if data["printer"]["paper"] == paper:
                    return dict(data)
    raise AssertionError("the event stream ended")


async def test_a_printer_refusing_connections_fails_the_job(tmp_path: Path) -> None:
    """Connection refused: the job is failed with the reason, nothing printed."""
    async with kiosk_hall(tmp_path) as hall, VirtualPrinter(state="refuse") as printer:
        config = write_agent_config(
            tmp_path / "agent.toml", hall.server.url, hall.tokens["kiosk"], printer.url
        )
        async with running_agent(config):
            await hall.issue()
            failed = await hall.wait_job(lambda j: j.status == "failed", STAFF_ALERT_S)
        assert "PrinterRefused" in failed.reason and printer.jobs == []


async def test_a_hanging_printer_fails_the_job_within_its_timeout(tmp_path: Path) -> None:
    """A printer that accepts and never answers: failed after the 2 s deadline, not later."""
    async with kiosk_hall(tmp_path) as hall, VirtualPrinter(state="hang") as printer:
        config = write_agent_config(
            tmp_path / "agent.toml", hall.server.url, hall.tokens["kiosk"], printer.url
        )
        async with running_agent(config):
            await eventually(lambda: _connected(hall), 10)
            pressed = time.monotonic()
            await hall.issue()
            failed = await hall.wait_job(lambda j: j.status == "failed", STAFF_ALERT_S)
        assert "PrinterTimeout" in failed.reason
        assert time.monotonic() - pressed < STAFF_ALERT_S


async def _connected(hall: KioskHall) -> bool:
    """The agent has reported its printer at least once (its link is up)."""
    r = await hall.server.http.get("/health/live")
    return r.status_code == 200 and (hall.tmp / "journal.jsonl").exists()
