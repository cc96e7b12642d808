"""The fast write paths keep the durable rows exactly as the statement-per-row paths wrote them.

PostgreSQL folds a command's ticket insert or guarded update into the flush's one statement
(server/services/unit.py); SQLite writes through the inline driver (server/storage/
inline_sqlite.py). These tests compare rows, check the guard, and check the driver's promise.
"""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, insert, select, text

from server.config import AppConfig
from server.domain.clock import ManualClock
from server.domain.errors import Conflict
from server.domain.events import Event
from server.services import unit as unit_module
from server.services.actors import SYSTEM
from server.services.tickets import load
from server.services.unit import Unit
from server.storage.db import Database
from server.storage.tables import (
    audit,
    counters,
    devices,
    halls,
    idempotency,
    outbox,
    print_jobs,
    staff,
    tickets,
)
from tests.conftest import FRIDAY_10AM, Hall, need_pg, reset_postgres, running_hall

W1 = "/halls/jinjiang/windows/1"
DAY = FRIDAY_10AM.date()


async def _scenario(h: Hall) -> None:
    """Issues (kiosk with a print job, guide desk priority), calls with finish, a recall."""
    for i in range(3):
        r = await h.post("/halls/jinjiang/tickets", "kiosk", {"queue": "social"}, key=f"i{i}")
        assert r.status_code == 201, r.text
    r = await h.post(
        "/halls/jinjiang/tickets", "guide", {"queue": "social", "lane": "elderly"}, key="g1"
    )
    assert r.status_code == 201, r.text
    for i in range(3):
        r = await h.post(f"{W1}/call-next", "w1", {"finish_current": True}, key=f"c{i}")
        assert r.status_code == 200, r.text
    h.clock.advance(120)
    r = await h.post(f"{W1}/recall", "w1", {}, key="r1")
    assert r.status_code == 200, r.text


async def _rows(h: Hall) -> dict[str, list[dict[str, Any]]]:
    """Every durable row the scenario writes, random ids and tokens replaced by numbers."""
    async with h.db.read() as conn:
        found = {
            t.name: [dict(r._mapping) for r in (await conn.execute(select(t))).all()]
            for t in (tickets, counters, idempotency, audit, outbox, print_jobs)
        }
        epoch = (await conn.execute(select(halls.c.epoch).where(halls.c.id == "jinjiang"))).one()
        enrolled = list((await conn.execute(select(devices.c.id, devices.c.name))).all())
        enrolled += (await conn.execute(select(staff.c.id, staff.c.username))).all()
    names = {epoch[0]: "<epoch>"} | {row[0]: f"<{row[1]}>" for row in enrolled}
    for t in found["tickets"]:
        names[t["id"]] = f"<ticket {t['number']}>"
        names[t["status_token"]] = f"<token {t['number']}>"
    for job in found["print_jobs"]:
        names[job["id"]] = f"<job of {names[job['ticket_id']]}>"

    def clean(value: Any) -> Any:
        if isinstance(value, str):
            for raw, name in names.items():
                value = value.replace(raw, name)
            return value
        if isinstance(value, dict | list):
            return json.loads(clean(json.dumps(value, sort_keys=True)))
        return value

    # audit.id is a sequence TRUNCATE does not restart; outbox.published is delivery
    # bookkeeping the relay flips in the background.
    skip = {("audit", "id"), ("outbox", "published")}
    out = {}
    for table, rows in found.items():
        cleaned = [{k: clean(v) for k, v in row.items() if (table, k) not in skip} for row in rows]
        out[table] = sorted(cleaned, key=lambda r: json.dumps(r, sort_keys=True, default=str))
    return out


async def test_one_statement_flush_writes_the_same_rows_on_postgres(
    app_config: AppConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tickets, counters, idempotency replies, audit, outbox and print jobs written by the
    one-statement PostgreSQL flush equal those of the statement-per-row flush, byte for byte."""
    url = need_pg()
    results = []
    for folded in (True, False):
        with monkeypatch.context() as m:
            if not folded:
                m.setattr(unit_module, "_flush_pg", unit_module._flush_generic)
            await reset_postgres(url)
            async with running_hall(url, app_config, ManualClock(FRIDAY_10AM)) as h:
                await _scenario(h)
                results.append(await _rows(h))
    folded_rows, separate_rows = results
    assert len(folded_rows["tickets"]) == 4 and len(folded_rows["outbox"]) >= 8
    for table, rows in folded_rows.items():
        assert len(rows) == len(separate_rows[table]), table
        for mine, theirs in zip(rows, separate_rows[table], strict=True):
            differ = {k: (v, theirs.get(k)) for k, v in mine.items() if theirs.get(k) != v}
            assert not differ and mine.keys() == theirs.keys(), (table, differ)


async def test_a_stale_guarded_save_rolls_the_whole_flush_back(
    database_url: str, app_config: AppConfig, clock: ManualClock
) -> None:
    """A ticket saved at flush that is no longer in its expected status fails the command
    with invalid_transition, and nothing of it (ticket, audit, seq, outbox) is kept."""
    async with running_hall(database_url, app_config, clock) as h:
        issued = await h.issue("social")
        async with h.db.read() as conn:
            seq_before = (await conn.execute(select(halls.c.seq))).scalars().all()
        db: Database = h.db
        with pytest.raises(Conflict) as caught:
            async with db.write() as conn:
                u = Unit(conn, app_config.hall("jinjiang"), SYSTEM, clock.now())
                t = await load(conn, "jinjiang", issued["id"], lock=True)
                u.save_ticket_at_flush(t, "called")  # it is waiting: the guard must refuse
                u.audit("ticket.test", ticket=t.id)
                u.emit(Event("ticket.serving", {"ticket": t.id}))
                await u.flush()
        assert caught.value.code == "invalid_transition"
        async with h.db.read() as conn:
            assert (await conn.execute(select(halls.c.seq))).scalars().all() == seq_before
            actions = (await conn.execute(select(audit.c.action))).scalars().all()
            status = (
                await conn.execute(select(tickets.c.status).where(tickets.c.id == issued["id"]))
            ).scalar_one()
        assert "ticket.test" not in actions and status == "waiting"


async def test_sqlite_writes_never_yield_the_loop(tmp_path: Path, app_config: AppConfig) -> None:
    """On a SQLite file a write transaction runs start to commit without a loop turn, so the
    one write lock is never held while other tasks run; reads keep a separate engine."""
    async with running_hall(
        f"sqlite+aiosqlite:///{tmp_path / 'h.db'}", app_config, ManualClock(FRIDAY_10AM)
    ) as h:
        db = h.db
        assert db.write_engine is not db.engine
        turns = 0

        async def count_turns() -> None:
            nonlocal turns
            while True:
                turns += 1
                await asyncio.sleep(0)

        ticker = asyncio.create_task(count_turns())
        await asyncio.sleep(0)
        try:
            async with db.write() as conn:
                before = turns
                for i in range(50):
                    await conn.execute(
                        insert(counters).values(
                            hall_id="jinjiang", queue_id=f"q{i}", business_date=DAY, value=1
                        )
                    )
                during = turns - before
        finally:
            ticker.cancel()
        assert during == 0
        async with db.read() as conn:
            assert (await conn.execute(select(func.count()).select_from(counters))).scalar() == 50


async def test_sqlite_reads_do_not_take_the_write_lock(tmp_path: Path) -> None:
    """A read transaction left open does not keep a write from committing at once (reads
    begin deferred; BEGIN IMMEDIATE on a reader would make the writer wait 5 s and fail)."""
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'r.db'}")
    try:
        async with db.write() as conn:
            await conn.execute(text("CREATE TABLE t (x INTEGER)"))
        async with db.read() as reader:
            await reader.execute(text("SELECT count(*) FROM t"))
            loop = asyncio.get_running_loop()
            started = loop.time()
            async with db.write() as conn:
                await conn.execute(text("INSERT INTO t VALUES (1)"))
            assert loop.time() - started < 1.0
            # The reader keeps its snapshot: the row committed after it began is not seen.
            assert (await reader.execute(text("SELECT count(*) FROM t"))).scalar() == 0
    finally:
        await db.dispose()


def test_in_memory_sqlite_keeps_one_engine() -> None:
    """An in-memory database stays on one engine: a second would be a second database."""
    db = Database("sqlite+aiosqlite://")
    assert db.write_engine is db.engine


async def _fill_wal(db: Database, pages: int) -> None:
    """``pages`` one-page rows in transactions of 100 (each row a 3,000-byte blob)."""
    async with db.write() as conn:
        await conn.execute(text("CREATE TABLE IF NOT EXISTS w (b BLOB)"))
    for _ in range(pages // 100):
        async with db.write() as conn:
            for _ in range(100):
                await conn.execute(text("INSERT INTO w VALUES (randomblob(3000))"))


async def test_sqlite_commits_leave_checkpoints_to_a_worker_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The inline writer never checkpoints inside a COMMIT (that would run the WAL copy and
    its fsync on the loop's thread): past SQLite's automatic threshold of 1,000 pages the WAL
    keeps growing until the Checkpointer copies it, from a thread that is not the loop's."""
    path = tmp_path / "c.db"
    db = Database(f"sqlite+aiosqlite:///{path}", checkpoint_s=3600)  # no background run here
    threads: list[bool] = []
    checkpoints = db.checkpoints
    assert checkpoints is not None
    real = checkpoints._checkpoint

    def spy() -> tuple[int, int, int]:
        threads.append(threading.current_thread() is threading.main_thread())
        return real()

    monkeypatch.setattr(checkpoints, "_checkpoint", spy)
    try:
        await _fill_wal(db, 1500)
        async with db.write() as conn:
            assert (await conn.exec_driver_sql("PRAGMA wal_autocheckpoint")).scalar() == 0
        wal = Path(f"{path}-wal")
        assert wal.stat().st_size > 1200 * 4096, "an automatic checkpoint reset the WAL"
        busy, frames, copied = await checkpoints.checkpoint()
        assert busy == 0 and frames == copied and frames >= 1500
        assert threads == [False]
        async with db.read() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM w"))).scalar() == 1500
    finally:
        await db.dispose()


async def test_sqlite_checkpointer_runs_after_writes_only(tmp_path: Path) -> None:
    """Started by the first write, it checkpoints what was written, then idles until the
    next write; dispose stops it."""
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'b.db'}", checkpoint_s=0.02)
    checkpoints = db.checkpoints
    assert checkpoints is not None
    try:
        assert checkpoints.runs == 0
        await _fill_wal(db, 100)
        for _ in range(250):  # ≤ 5 s
            if checkpoints.runs:
                break
            await asyncio.sleep(0.02)
        for _ in range(250):  # the write of the table and that of the rows may take two
            if checkpoints.idle:
                break
            await asyncio.sleep(0.02)
        runs = checkpoints.runs
        assert runs >= 1 and checkpoints.idle
        await asyncio.sleep(0.1)  # five intervals without a write
        assert checkpoints.runs == runs
        await _fill_wal(db, 100)
        for _ in range(250):
            if checkpoints.runs > runs:
                break
            await asyncio.sleep(0.02)
        assert checkpoints.runs > runs
    finally:
        await db.dispose()
    assert checkpoints._task is None


def test_only_a_sqlite_file_has_a_checkpointer() -> None:
    assert Database("sqlite+aiosqlite://").checkpoints is None
    assert Database("postgresql+asyncpg://u@127.0.0.1/x").checkpoints is None
