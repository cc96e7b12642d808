"""A real hallq (uvicorn on SQLite), kiosk agent configs, and a proxy that holds one direction."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from kiosk.agent.agent import KioskAgent
from kiosk.agent.config import load_agent_config
from server.config import load_config
from server.services import auth
from server.services.setup import bootstrap
from server.storage.db import Database
from server.storage.tables import print_jobs, tickets
from tests.conftest import _enroll
from tests.realtime.procs import ServerProcess, all_day_config, free_port, server_process

HALL = "jinjiang"


@dataclass
class KioskHall:
    """A running server, its database (read by the tests) and the enrolled tokens."""

    server: ServerProcess
    db: Database
    tokens: dict[str, str]
    tmp: Path

    async def device_id(self, who: str) -> str:
        async with self.db.read() as conn:
            actor = await auth.authenticate(conn, self.tokens[who], datetime.now(UTC))
        return actor.id

    async def jobs(self) -> list[Any]:
        async with self.db.read() as conn:
            stmt = select(print_jobs).order_by(print_jobs.c.created_at)
            return list((await conn.execute(stmt)).all())

    async def ticket_count(self) -> int:
        async with self.db.read() as conn:
            return int((await conn.execute(select(func.count()).select_from(tickets))).scalar_one())

    async def wait_job(self, predicate: Callable[[Any], bool], timeout_s: float) -> Any:
        """The first job matching ``predicate``, polling until ``timeout_s``."""
        async with asyncio.timeout(timeout_s):
            while True:
                for job in await self.jobs():
                    if predicate(job):
                        return job
                await asyncio.sleep(0.1)

    async def issue(self, who: str = "kiosk") -> dict[str, Any]:
        r = await self.server.issue("social", who=who)
        assert r.status_code == 201, r.text
        return dict(r.json())

    async def add_kiosk(self, name: str) -> str:
        """Enroll another kiosk of the hall; returns its token."""
        async with self.db.write() as conn:
            d = await auth.add_device(
                conn, hall=HALL, role="kiosk", name=name, window=None, zone=None,
                now=datetime.now(UTC),
            )  # fmt: skip
        return d.token


@asynccontextmanager
async def kiosk_hall(tmp_path: Path) -> AsyncIterator[KioskHall]:
    """hallq under uvicorn on SQLite, open all day, devices and staff enrolled."""
    config_path = all_day_config(tmp_path / "config.toml")
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'hallq.db'}"
    config = load_config(config_path)
    db = Database(database_url)
    try:
        now = datetime.now(UTC)
        await bootstrap(db, config, now)
        tokens = await _enroll(db, config, now)
        port = free_port()
        env = {"HALLQ_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}"}
        async with server_process(
            config_path, database_url, tokens, tmp_path / "server.log", port=port, extra_env=env
        ) as server:
            yield KioskHall(server, db, tokens, tmp_path)
    finally:
        await db.dispose()


def write_agent_config(
    path: Path,
    server_url: str,
    token: str,
    printer_url: str,
    *,
    timeout_s: float = 2.0,
    status_interval_s: float = 1.0,
) -> Path:
    """A kiosk-agent.toml for the tests (token in a file beside it, as deployments do)."""
    (path.parent / "kiosk.token").write_text(token + "\n", encoding="utf-8")
    path.write_text(
        f'server = "{server_url}"\nhall = "{HALL}"\ntoken_file = "kiosk.token"\n'
        f'journal = "{path.parent / "journal.jsonl"}"\nstatus_interval_s = {status_interval_s}\n'
        f'[printer]\nurl = "{printer_url}"\nwidth = 80\nmode = "text"\ntimeout_s = {timeout_s}\n',
        encoding="utf-8",
    )
    return path


@asynccontextmanager
async def running_agent(config_path: Path) -> AsyncIterator[KioskAgent]:
    """The agent of ``config_path`` running in this event loop until the block ends."""
    agent = KioskAgent(load_agent_config(config_path))
    task = asyncio.create_task(agent.run())
    try:
        yield agent
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def eventually(check: Callable[[], Awaitable[bool]], timeout_s: float) -> None:
    """Poll ``check`` every 0.1 s until it holds; TimeoutError after ``timeout_s``."""
    async with asyncio.timeout(timeout_s):
        while not await check():
            await asyncio.sleep(0.1)


class HoldProxy:
    """A loopback TCP proxy whose client → server direction can be held (bytes kept, unsent).

    Held, the agent's acks never reach the server while its print jobs still reach the agent.
    """

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self.holding = False
        self.held = 0  # bytes held back
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        self.cut()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def cut(self) -> None:
        """Abort every open connection (the held bytes are lost with them)."""
        for writer in self._writers:
            writer.transport.abort()
        self._writers.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self._writers += [writer, up_writer]
        pumps = [
            asyncio.create_task(self._pump(reader, up_writer, upstream=True)),
            asyncio.create_task(self._pump(up_reader, writer, upstream=False)),
        ]
        self._tasks.update(pumps)
        await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        for task in pumps:
            task.cancel()
        writer.transport.abort()
        up_writer.transport.abort()

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, upstream: bool
    ) -> None:
        with contextlib.suppress(OSError, asyncio.CancelledError):
            while chunk := await reader.read(65536):
                if upstream and self.holding:
                    self.held += len(chunk)
                    continue
                writer.write(chunk)
                await writer.drain()
