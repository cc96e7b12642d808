"""A job issued on one server process reaches the agent connected to another (PostgreSQL)."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import select

from printer.virtual import VirtualPrinter
from server.storage.db import Database
from server.storage.tables import print_jobs
from tests.conftest import need_pg
from tests.kiosk.support import eventually, running_agent, write_agent_config
from tests.realtime.procs import all_day_config, prepare, server_process


async def test_a_job_reaches_the_agent_on_another_process(tmp_path: Path) -> None:
    """Issued through process A, the kiosk's agent on process B prints it and acks."""
    pg = need_pg()
    broadcast = os.environ.get("TEST_REDIS_URL", "memory://")
    config_path = all_day_config(tmp_path / "config.toml")
    tokens = await prepare(pg, config_path)
    db = Database(pg)
    try:
        async with (
            server_process(config_path, pg, tokens, tmp_path / "a.log", broadcast_url=broadcast)
            as a,
            server_process(config_path, pg, tokens, tmp_path / "b.log", broadcast_url=broadcast)
            as b,
            VirtualPrinter() as printer,
        ):  # fmt: skip
            config = write_agent_config(
                tmp_path / "agent.toml", b.url, tokens["kiosk"], printer.url
            )
            async with running_agent(config) as agent:
                r = await a.issue("social")
                assert r.status_code == 201, r.text
                number = r.json()["number"]

                async def printed() -> bool:
                    async with db.read() as conn:
                        rows = (await conn.execute(select(print_jobs.c.status))).all()
                    return [row.status for row in rows] == ["printed"]

                await eventually(printed, 15)
            assert agent.printed == 1
            assert [number in job.text for job in printer.jobs] == [True]
    finally:
        await db.dispose()
