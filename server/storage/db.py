"""The database handle: its engines, serialized writes on SQLite, errors mapped to StoreUnavailable.

SQLite allows one writer: several writer connections busy-wait unfairly (p99 130-180 ms in
performance.md), so writes go through one asyncio lock and ``BEGIN IMMEDIATE``, on an engine
whose driver runs sqlite3 inline (server/storage/inline_sqlite.py: no thread hop while the
lock is held); reads use aiosqlite with a deferred ``BEGIN`` and never take the write lock.
PostgreSQL writes run concurrently; exclusivity comes from row locks (``FOR UPDATE [SKIP
LOCKED]``).

SQLite checkpoints run off the event loop: the inline writer never checkpoints itself
(``wal_autocheckpoint=0``); a background task copies the WAL into the database file from a
worker thread with ``PRAGMA wal_checkpoint(PASSIVE)``, which never takes the write lock. An
automatic checkpoint would run inside a command's COMMIT on the loop's thread, fsync included:
on these VMs a single fsync took up to 490 ms, during which no screen, kiosk or window is
served; it also cost every commit about a third of a millisecond on average.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event, make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from server.domain.errors import StoreUnavailable
from server.storage.group_commit import GroupWriter
from server.storage.inline_sqlite import InlineConnection, inline_creator

log = logging.getLogger("hallq.storage")

# Waiting longer than this for a row lock means something is stuck: answer 503, don't hang.
PG_LOCK_TIMEOUT = "5000"  # milliseconds
# SQLite: how long a writer waits for another process (the CLI) holding the write lock. The
# inline writer waits on the loop's thread: only another process can hold that lock (this
# one's readers never take it), and its transactions are short.
SQLITE_BUSY_TIMEOUT_S = 5.0
# How often written WAL pages are copied into the database file (off the loop). Frequent
# enough that the WAL stays small at hall rates; its file is cut back to WAL_SIZE_LIMIT.
SQLITE_CHECKPOINT_S = 1.0
WAL_SIZE_LIMIT = 64 * 1024 * 1024


class Database:
    """An AsyncEngine plus the write discipline of its dialect."""

    def __init__(
        self,
        url: str,
        *,
        echo: bool = False,
        pool_size: int = 10,
        checkpoint_s: float = SQLITE_CHECKPOINT_S,
    ) -> None:
        self.url = url
        self.engine = _create_engine(url, echo=echo, pool_size=pool_size)
        self.dialect = self.engine.dialect.name
        self.is_sqlite = self.dialect == "sqlite"
        # The engine write transactions use: on a SQLite file the inline driver, else the same.
        self.write_engine = _sqlite_write_engine(url, echo=echo) or self.engine
        self._write_lock = asyncio.Lock() if self.is_sqlite else None
        self._checkpoints: Checkpointer | None = None
        # A SQLite file's writer: one connection kept checked out (a pool checkout and return
        # per command cost more than its statements), commands committed in groups.
        self._writer: GroupWriter | None = None
        if self.write_engine is not self.engine:
            self._checkpoints = Checkpointer(make_url(url).database or "", checkpoint_s)
            self._writer = GroupWriter(self.write_engine, self._written)

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """One write transaction: committed on normal exit, rolled back on an exception."""
        if self._write_lock is None:
            async with _unavailable_on_error(), self.engine.begin() as conn:
                yield conn
            return
        if self._writer is not None:
            async with _unavailable_on_error(), self._writer.write() as conn:
                yield conn
            return
        # In-memory: one engine, pooled as usual, its writes serialised by the lock.
        async with self._write_lock, _unavailable_on_error(), self.engine.begin() as conn:
            yield conn

    def _written(self) -> None:
        """A group of SQLite writes committed: the checkpointer has WAL pages to copy."""
        if self._checkpoints is not None:
            self._checkpoints.dirty = True
            self._checkpoints.start()

    @asynccontextmanager
    async def read(self, *, snapshot: bool = False) -> AsyncIterator[AsyncConnection]:
        """A read transaction; ``snapshot=True`` makes every statement see one moment.

        SQLite WAL read transactions always do; PostgreSQL needs REPEATABLE READ, which costs
        a round trip, so only multi-statement views (the hall snapshot) ask for it.
        """
        async with _unavailable_on_error(), self.engine.connect() as conn:
            if snapshot and not self.is_sqlite:
                await conn.execution_options(isolation_level="REPEATABLE READ")
            async with conn.begin():
                yield conn

    async def ping(self) -> None:
        """Raise StoreUnavailable unless the database answers a trivial query."""
        async with self.read() as conn:
            await conn.exec_driver_sql("SELECT 1")

    @property
    def writer(self) -> GroupWriter | None:
        """A SQLite file's group-committing writer (None for other databases)."""
        return self._writer

    @property
    def checkpoints(self) -> Checkpointer | None:
        """The off-loop WAL checkpointer of a SQLite file (None for other databases)."""
        return self._checkpoints

    async def dispose(self) -> None:
        if self._writer is not None:
            await self._writer.settle()  # a scheduled group commit still runs
        if self._checkpoints is not None:
            await self._checkpoints.stop()
        if self._writer is not None:
            await self._writer.close()
        if self.write_engine is not self.engine:
            await self.write_engine.dispose()
        await self.engine.dispose()


class Checkpointer:
    """Copies a SQLite file's WAL into the database from a worker thread, every ``interval_s``.

    Its own sqlite3 connection, used by one thread at a time (``asyncio.to_thread``, one call
    in flight). PASSIVE never waits for or blocks the writer; the next write transaction
    restarts the WAL from its start once everything was copied.
    """

    def __init__(self, path: str, interval_s: float) -> None:
        self.path = path
        self.interval_s = interval_s
        self.dirty = False  # written since the last checkpoint began
        self.runs = 0
        self._running = False
        self._thread: asyncio.Future[tuple[int, int, int]] | None = None
        self._conn: sqlite3.Connection | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop(), name="wal-checkpoint")

    async def checkpoint(self) -> tuple[int, int, int]:
        """One PASSIVE checkpoint now: (busy, WAL frames, frames copied), as SQLite reports."""
        self.dirty = False
        self._running = True
        # A task of its own: cancelling the caller must not leave the thread using the
        # connection while ``stop`` closes it (a crash inside sqlite3).
        self._thread = asyncio.ensure_future(asyncio.to_thread(self._checkpoint))
        try:
            result = await asyncio.shield(self._thread)
        finally:
            self._running = False
        self.runs += 1
        return result

    @property
    def idle(self) -> bool:
        """Nothing written since the last checkpoint, and none running."""
        return not self.dirty and not self._running

    def _checkpoint(self) -> tuple[int, int, int]:
        if self._conn is None:
            self._conn = sqlite3.connect(
                self.path,
                timeout=SQLITE_BUSY_TIMEOUT_S,
                isolation_level=None,
                check_same_thread=False,  # to_thread may pick another worker each time
            )
            self._conn.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
        busy, frames, copied = self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return int(busy), int(frames), int(copied)

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            if not self.dirty:
                continue
            try:
                await self.checkpoint()
            except sqlite3.Error as exc:  # the writer goes on; the WAL just grows meanwhile
                log.warning("WAL checkpoint failed: %s; retrying in %.1f s", exc, self.interval_s)

    async def stop(self) -> None:
        """Stop the loop and close the connection (the writer's close checkpoints the rest)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._thread is not None:
            with contextlib.suppress(Exception):  # its failure was logged by the loop
                await self._thread  # the worker thread finishes with the connection first
            self._thread = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _create_engine(url: str, *, echo: bool, pool_size: int) -> AsyncEngine:
    if url.startswith("sqlite"):
        engine = create_async_engine(
            url, echo=echo, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S}
        )
        _sqlite_pragmas(engine, begin="BEGIN")
        return engine
    return create_async_engine(
        url,
        echo=echo,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=False,
        pool_timeout=5,
        # lock_timeout set per connection, not per transaction: one round trip less per command.
        connect_args={
            "timeout": 5,
            "command_timeout": 10,
            "server_settings": {"lock_timeout": PG_LOCK_TIMEOUT},
        },
    )


def _sqlite_write_engine(url: str, *, echo: bool) -> AsyncEngine | None:
    """The inline-driver engine for writes to a SQLite file; None for other databases.

    An in-memory database would be a second, empty database on a second engine: it keeps
    the one aiosqlite engine for everything.
    """
    parsed = make_url(url)
    path = parsed.database
    if parsed.get_backend_name() != "sqlite" or not path or path == ":memory:":
        return None
    if "mode=memory" in str(parsed.query):
        return None
    creator = inline_creator(path, timeout=SQLITE_BUSY_TIMEOUT_S)
    # One connection: writes are serialised by Database's lock anyway.
    engine = create_async_engine(url, echo=echo, async_creator=creator, pool_size=1, max_overflow=0)
    _sqlite_pragmas(engine, begin="BEGIN IMMEDIATE", writer=True)
    return engine


def _sqlite_pragmas(engine: AsyncEngine, *, begin: str, writer: bool = False) -> None:
    """Pragmas on every new connection, and the transaction's BEGIN (``begin``).

    Writers begin with ``BEGIN IMMEDIATE`` (the write lock up front, never an upgrade that
    could fail mid-transaction). Readers begin with a deferred ``BEGIN``: in WAL mode they
    read a snapshot and never take the write lock, so a reader waiting for its thread hop
    never holds up the inline writer.
    """

    # pysqlite/aiosqlite open transactions lazily and never emit BEGIN IMMEDIATE; take over
    # transaction control (isolation_level=None) and begin ourselves, as SQLAlchemy documents.
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        if dbapi_conn.isolation_level is not None:  # the inline driver opens with None
            dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
        if writer:  # the Checkpointer copies the WAL, off the loop (module docstring)
            cur.execute("PRAGMA wal_autocheckpoint=0")
            cur.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
        cur.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        driver = conn.connection.driver_connection
        if isinstance(driver, InlineConnection):
            driver.raw.execute(begin)  # every write begins here: skip a SQLAlchemy execute
        else:
            conn.exec_driver_sql(begin)


@asynccontextmanager
async def _unavailable_on_error() -> AsyncIterator[None]:
    try:
        yield
    except (OperationalError, DBAPIError) as exc:
        if _is_connection_problem(exc):
            log.warning("database unavailable: %s", type(exc.orig).__name__ if exc.orig else exc)
            raise StoreUnavailable(
                "系统暂时无法访问数据库，请稍后重试。",
                "The database is unavailable; retry shortly.",
            ) from exc
        raise
    except sqlite3.OperationalError as exc:
        # Raw, from the inline writer's BEGIN IMMEDIATE (sent below SQLAlchemy): another
        # process (the CLI) held SQLite's write lock past the busy timeout.
        log.warning("SQLite write lock unavailable: %s", exc)
        raise StoreUnavailable(
            "系统繁忙，请稍后重试。",
            "SQLite's write lock is held by another process (a hallq command?); retry shortly.",
        ) from exc
    except PoolTimeout as exc:
        # Every pooled connection is busy (e.g. a thousand screens reconnecting at once): that
        # is "try again shortly", not an internal error.
        log.warning("database pool exhausted: %s", exc)
        raise StoreUnavailable(
            "系统繁忙，请稍后重试。", "All database connections are busy; retry shortly."
        ) from exc
    except (OSError, TimeoutError, ConnectionError) as exc:
        log.warning("database unreachable: %s", exc)
        raise StoreUnavailable(
            "系统暂时无法访问数据库，请稍后重试。", "The database is unreachable; retry shortly."
        ) from exc


def _is_connection_problem(exc: DBAPIError) -> bool:
    if exc.connection_invalidated:
        return True
    text = str(exc.orig).lower() if exc.orig is not None else str(exc).lower()
    markers = ("connection", "could not connect", "lock timeout", "locked", "timeout", "closed")
    return any(m in text for m in markers)
