"""SQLite group commit (server/storage/group_commit.py): shared COMMITs, never shared failures."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncTransaction

from server.domain.errors import StoreUnavailable
from server.storage.db import Database
from server.storage.group_commit import GroupWriter


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'g.db'}")
    async with database.write() as conn:
        await conn.execute(text("CREATE TABLE t (k INTEGER PRIMARY KEY)"))
    try:
        yield database
    finally:
        await database.dispose()


def writer(db: Database) -> GroupWriter:
    assert db.writer is not None
    return db.writer


def committed(db: Database) -> list[int]:
    """The rows another connection sees: what is durable, not what the writer holds."""
    path = db.url.split("///", 1)[1]
    with sqlite3.connect(path) as other:
        return [k for (k,) in other.execute("SELECT k FROM t ORDER BY k")]


async def insert(db: Database, k: int) -> None:
    async with db.write() as conn:
        await conn.execute(text("INSERT INTO t VALUES (:k)"), {"k": k})
    # write() has returned: the row must already be visible to everyone.
    assert k in committed(db)


async def test_commands_of_one_loop_turn_share_a_commit(db: Database) -> None:
    before = writer(db).groups
    await asyncio.gather(*(insert(db, k) for k in range(20)))
    assert committed(db) == list(range(20))
    assert writer(db).groups - before == 1  # twenty commands, one COMMIT
    assert writer(db).commands >= 20


async def test_commands_of_later_turns_get_their_own_commit(db: Database) -> None:
    before = writer(db).groups
    for k in range(3):
        await insert(db, k)
    assert writer(db).groups - before == 3


async def test_a_failing_command_is_rolled_back_alone(db: Database) -> None:
    async def failing() -> None:
        async with db.write() as conn:
            await conn.execute(text("INSERT INTO t VALUES (100)"))
            raise ValueError("refused")

    results = await asyncio.gather(insert(db, 1), failing(), insert(db, 2), return_exceptions=True)
    assert results[0] is None and results[2] is None
    assert isinstance(results[1], ValueError)
    assert committed(db) == [1, 2]


async def test_a_duplicate_key_in_a_group_fails_only_its_command(db: Database) -> None:
    results = await asyncio.gather(
        insert(db, 5), insert(db, 5), insert(db, 6), return_exceptions=True
    )
    assert sum(1 for r in results if r is None) == 2
    assert committed(db) == [5, 6]


async def test_a_lost_transaction_fails_every_command_of_its_group(db: Database) -> None:
    """SQLite rolls the whole transaction back on some errors (a full disk): the commands that
    already finished in it were not saved, so they must not answer success."""

    async def disk_full() -> None:
        async with db.write() as conn:
            await conn.execute(text("INSERT INTO t VALUES (100)"))
            raw = (await conn.get_raw_connection()).driver_connection.raw
            raw.rollback()  # what SQLite does itself on SQLITE_FULL or an I/O error
            raise sqlite3.OperationalError("database or disk is full")

    results = await asyncio.gather(insert(db, 1), disk_full(), return_exceptions=True)
    assert isinstance(results[0], StoreUnavailable)
    assert isinstance(results[1], Exception)
    assert committed(db) == []
    await insert(db, 2)  # the writer starts afresh
    assert committed(db) == [2]


async def test_a_failed_commit_fails_its_commands_and_the_next_group_works(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_commit = AsyncTransaction.commit
    failures = 0

    async def failing_commit(self: AsyncTransaction) -> None:
        nonlocal failures
        if failures == 0:
            failures += 1
            raise sqlite3.OperationalError("disk I/O error")
        await real_commit(self)

    monkeypatch.setattr(AsyncTransaction, "commit", failing_commit)
    results = await asyncio.gather(insert(db, 1), insert(db, 2), return_exceptions=True)
    assert all(isinstance(r, StoreUnavailable) for r in results), results
    assert committed(db) == []
    await insert(db, 3)
    assert committed(db) == [3]


async def test_a_lone_failure_does_not_keep_sqlite_locked(db: Database) -> None:
    """Another process (the CLI) can write once a refused command's loop turn is over."""
    with pytest.raises(ValueError):
        async with db.write() as conn:
            await conn.execute(text("INSERT INTO t VALUES (1)"))
            raise ValueError("refused")
    await writer(db).settle()
    path = db.url.split("///", 1)[1]
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # "database is locked" if the group were left open
        other.execute("INSERT INTO t VALUES (7)")
        other.execute("COMMIT")
    finally:
        other.close()
    assert committed(db) == [7]


async def test_a_caller_that_gives_up_does_not_undo_its_command(db: Database) -> None:
    """A client hanging up while the commit is pending: the command is saved all the same
    (its Idempotency-Key replays the answer), and the group's others are not affected."""

    async def hangs_up() -> None:
        async with db.write() as conn:
            await conn.execute(text("INSERT INTO t VALUES (1)"))

    task = asyncio.create_task(hangs_up())
    other = asyncio.create_task(insert(db, 2))
    await asyncio.sleep(0)  # both ran their statements; the commit task is scheduled
    task.cancel()
    await asyncio.gather(task, other, return_exceptions=True)
    await writer(db).settle()
    assert committed(db) == [1, 2]


async def test_writes_inside_a_group_see_each_other(db: Database) -> None:
    """Later commands of a group read what earlier ones wrote (one connection, in order)."""
    seen: list[int] = []

    async def count_after_insert(k: int) -> None:
        async with db.write() as conn:
            await conn.execute(text("INSERT INTO t VALUES (:k)"), {"k": k})
            seen.append(int((await conn.execute(text("SELECT count(*) FROM t"))).scalar_one()))

    await asyncio.gather(*(count_after_insert(k) for k in range(5)))
    assert seen == [1, 2, 3, 4, 5]


async def test_another_process_holding_the_lock_is_a_503_then_writes_resume(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CLI (another process) holds SQLite's write lock past the busy timeout: the command
    answers 503 instead of hanging, and the next one writes normally once the lock is free."""
    monkeypatch.setattr("server.storage.db.SQLITE_BUSY_TIMEOUT_S", 0.2)
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'busy.db'}")
    try:
        async with database.write() as conn:
            await conn.execute(text("CREATE TABLE t (k INTEGER PRIMARY KEY)"))
        other = sqlite3.connect(tmp_path / "busy.db", isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(StoreUnavailable):
                await insert(database, 1)
        finally:
            other.execute("ROLLBACK")
            other.close()
        await insert(database, 2)
        assert committed(database) == [2]
    finally:
        await database.dispose()


async def test_a_commit_cancelled_at_shutdown_fails_its_commands_instead_of_hanging(
    db: Database,
) -> None:
    async def one() -> None:
        async with db.write() as conn:
            await conn.execute(text("INSERT INTO t VALUES (1)"))

    task = asyncio.create_task(one())
    await asyncio.sleep(0)  # the command ran; its group's commit task is scheduled
    committer = writer(db)._committer
    assert committer is not None and not committer.done()
    committer.cancel()
    with pytest.raises(StoreUnavailable):
        await asyncio.wait_for(task, 5)
