"""An aiosqlite-shaped driver whose calls run sqlite3 inline, on the event loop's own thread.

SQLAlchemy's aiosqlite adapter awaits four hand-offs to aiosqlite's thread per statement
(cursor, execute, fetchall, close), and hallq holds SQLite's one write lock for a whole
command, so every other command waited for ~40 loop turns per command (docs/performance.md).
A hot-path statement is tens of microseconds of C, cheaper than one hand-off: with this
driver a write transaction runs from ``BEGIN IMMEDIATE`` to ``COMMIT`` without yielding the
loop, and the lock is held only for the command's own CPU time. Only writes use it (short and
serialised anyway); reads stay on aiosqlite so a long report never stalls the loop.

SQLAlchemy takes it through the documented ``async_creator`` of ``create_async_engine``;
the coroutines below complete without suspending, so ``await_`` never leaves the greenlet.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Sequence
from typing import Any


class InlineCursor:
    """The subset of ``aiosqlite.Cursor`` SQLAlchemy's adapter calls."""

    __slots__ = ("_cur",)

    def __init__(self, cur: sqlite3.Cursor) -> None:
        self._cur = cur

    async def __aenter__(self) -> InlineCursor:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        self._cur.close()

    @property
    def description(self) -> Any:
        return self._cur.description

    @property
    def rowcount(self) -> int:
        return self._cur.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cur.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cur.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cur.arraysize = value

    async def execute(self, sql: str, parameters: Sequence[Any] = ()) -> InlineCursor:
        self._cur.execute(sql, parameters)
        return self

    async def executemany(self, sql: str, seq: Iterable[Sequence[Any]]) -> InlineCursor:
        self._cur.executemany(sql, seq)
        return self

    async def fetchone(self) -> Any:
        return self._cur.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cur.fetchmany(self._cur.arraysize if size is None else size)

    async def fetchall(self) -> list[Any]:
        return self._cur.fetchall()

    async def close(self) -> None:
        self._cur.close()


class InlineConnection:
    """The subset of ``aiosqlite.Connection`` SQLAlchemy's adapter calls."""

    __slots__ = ("_conn",)

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    @property
    def _connection(self) -> sqlite3.Connection:
        # SQLAlchemy's adapter checks aiosqlite's private ``_connection`` before commit and
        # rollback (falsy once closed).
        return self._conn

    @property
    def raw(self) -> sqlite3.Connection:
        """The sqlite3 connection itself (server/storage/fast.py runs hot statements on it)."""
        return self._conn

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level

    def cursor(self) -> InlineCursor:
        return InlineCursor(self._conn.cursor())

    async def commit(self) -> None:
        self._conn.commit()

    async def rollback(self) -> None:
        self._conn.rollback()

    async def close(self) -> None:
        self._conn.close()

    def stop(self) -> None:
        """Force-close (SQLAlchemy's terminate when the connection was lost)."""
        self._conn.close()

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._conn.create_function(*args, **kwargs)


def inline_creator(path: str, *, timeout: float) -> Callable[[], Any]:
    """An ``async_creator`` for ``create_async_engine`` opening ``path`` with this driver.

    The connection starts in autocommit mode (``isolation_level=None``): the engine's
    ``begin`` listener emits ``BEGIN IMMEDIATE`` itself. ``check_same_thread`` is off only so
    that a connection garbage-collected on another thread can still be closed.
    """

    async def create() -> InlineConnection:
        conn = sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)
        return InlineConnection(conn)

    return create
