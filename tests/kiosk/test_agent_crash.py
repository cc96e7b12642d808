"""Exactly-once printing across a kill -9 of the agent process between paper and ack."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import select

from printer.virtual import VirtualPrinter
from server.storage.tables import device_status
from tests.conftest import ROOT
from tests.kiosk.support import (
    HoldProxy,
    KioskHall,
    eventually,
    kiosk_hall,
    write_agent_config,
)
from tests.realtime.procs import stop_process


@asynccontextmanager
async def agent_process(config: Path, log: Path) -> AsyncIterator[subprocess.Popen[bytes]]:
    """``python -m kiosk.agent --config CONFIG`` as its own process."""
    cmd = [sys.executable, "-m", "kiosk.agent", "--config", str(config)]
    with log.open("ab") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        await stop_process(proc)


async def _reported(hall: KioskHall, device: str) -> bool:
    async with hall.db.read() as conn:
        stmt = select(device_status.c.device_id).where(device_status.c.device_id == device)
        return (await conn.execute(stmt)).first() is not None


def _journal(path: Path) -> list[tuple[str, str]]:
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [(e["job"], e["state"]) for e in map(json.loads, lines)]


async def test_a_job_printed_before_a_crash_is_acked_not_printed_again(tmp_path: Path) -> None:
    """Agent killed after the paper came out, its ack held back: the job is still 'sent'; the
    restarted agent gets it again, answers from its journal, and nothing prints twice."""
    async with kiosk_hall(tmp_path) as hall, VirtualPrinter() as printer:
        proxy = HoldProxy(hall.server.port)
        await proxy.start()
        try:
            config = write_agent_config(
                tmp_path / "agent.toml",
                f"http://127.0.0.1:{proxy.port}",
                hall.tokens["kiosk"],
                printer.url,
                status_interval_s=60,
            )
            journal = tmp_path / "journal.jsonl"
            log = tmp_path / "agent.log"
            kiosk = await hall.device_id("kiosk")
            async with agent_process(config, log) as agent:
                await eventually(lambda: _reported(hall, kiosk), 15)
                proxy.holding = True  # from now on nothing the agent sends reaches the server
                ticket = await hall.issue()
                await printer.next_job(timeout_s=10)
                [job] = await hall.jobs()
                await eventually(_true_when(lambda: (job.id, "printed") in _journal(journal)), 5)
                await eventually(_true_when(lambda: proxy.held > 0), 5)  # the ack, held
                agent.kill()
                agent.wait(5)
            [job] = await hall.jobs()
            assert (job.status, job.attempts) == ("sent", 1)

            proxy.cut()
            proxy.holding = False
            async with agent_process(config, log):
                done = await hall.wait_job(lambda j: j.status == "printed", 15)
            assert (done.id, done.attempts) == (job.id, 2)
            assert len(printer.jobs) == 1 and ticket["number"] in printer.jobs[0].text
            assert "acking without printing" in log.read_text(encoding="utf-8")
        finally:
            await proxy.stop()


def _true_when(check: Callable[[], bool]) -> Callable[[], Awaitable[bool]]:
    async def poll() -> bool:
        return check()

    return poll
