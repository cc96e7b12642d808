"""SQLite's one writer connection, the commands of the same moment committed together.

Every write command used to end with its own ``COMMIT``: on a busy SQLite hall that was a
fifth of the server's CPU (the WAL append of the pages the command touched, the counter's,
the hall row's and the index leaves', written again by the next command a moment later).

Here a command runs inside ``SAVEPOINT`` on a transaction it may share with others: the first
command of a group sends ``BEGIN IMMEDIATE``; each command is a savepoint, released when it
succeeds and rolled back alone when it fails; a commit task, scheduled when the first command
of the group finishes, runs after the requests that were ready in that loop turn and the next
and commits them all at once. A command's ``write()`` returns only after that commit, so no reply,
no published event and no printed ticket ever comes before its data is durable: the
guarantee of one-transaction-per-command is unchanged, only the ``COMMIT`` is shared. The
busier the hall, the more commands share it; a lone command waits two loop turns.

If the shared transaction itself is lost (a failed ``COMMIT``, or an error after which SQLite
rolled the whole transaction back, such as a full disk), every command of the group fails
with StoreUnavailable: nothing was written, and a retry with the same Idempotency-Key runs it
again. A command that only fails itself (a refused transition, a duplicate key) is rolled back
to its savepoint and the others are unaffected.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncTransaction

from server.domain.errors import StoreUnavailable
from server.storage.inline_sqlite import InlineConnection

log = logging.getLogger("hallq.storage")

_SAVEPOINT = "SAVEPOINT hallq_command"
_RELEASE = "RELEASE hallq_command"
_ROLLBACK_TO = "ROLLBACK TO hallq_command"


class _Group:
    """One shared write transaction and the commands waiting for its commit."""

    __slots__ = ("commands", "done", "raw", "scheduled", "trans")

    def __init__(self, trans: AsyncTransaction, raw: sqlite3.Connection) -> None:
        self.trans = trans
        self.raw = raw
        # Set when the group ends: None once committed, else why it was lost.
        self.done: asyncio.Future[BaseException | None] = asyncio.get_running_loop().create_future()
        self.scheduled = False
        self.commands = 0


class GroupWriter:
    """Write transactions on one inline-SQLite connection, committed in groups (see module)."""

    def __init__(self, engine: AsyncEngine, on_commit: Callable[[], None] | None = None) -> None:
        self.engine = engine
        self.on_commit = on_commit
        self.lock = asyncio.Lock()
        self.groups = 0  # committed groups (tests and the bench read these)
        self.commands = 0  # commands committed in them
        self._conn: AsyncConnection | None = None
        self._group: _Group | None = None
        self._committer: asyncio.Task[None] | None = None

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """One command's transaction: durable when this exits normally, undone on an error."""
        async with self.lock:
            conn, group = await self._join()
            group.raw.execute(_SAVEPOINT)
            try:
                yield conn
            except BaseException as exc:
                await self._undo(group, exc)
                self._schedule(group)  # an open transaction would hold SQLite's write lock
                raise
            try:
                group.raw.execute(_RELEASE)
            except sqlite3.Error as exc:  # the transaction is gone: so is every command in it
                await self._lose(group, exc)
                raise
            group.commands += 1
            self._schedule(group)
        # Shielded: a client hanging up does not undo a command others' commit includes.
        lost = await asyncio.shield(group.done)
        if lost is not None:
            raise StoreUnavailable(
                "系统暂时无法保存，请重试。",
                "The shared write transaction was rolled back; nothing of this command was "
                "saved. Retry (with the same Idempotency-Key).",
            ) from lost

    async def _join(self) -> tuple[AsyncConnection, _Group]:
        """The open group's connection, or a new group (``BEGIN IMMEDIATE``)."""
        if self._group is not None:
            assert self._conn is not None
            return self._conn, self._group
        if self._conn is None or self._conn.closed:
            self._conn = await self.engine.connect()
        # An invalidated connection reconnects here; the engine's begin listener sends
        # BEGIN IMMEDIATE (server/storage/db.py).
        trans = await self._conn.begin()
        driver = (await self._conn.get_raw_connection()).driver_connection
        assert isinstance(driver, InlineConnection)
        self._group = _Group(trans, driver.raw)
        return self._conn, self._group

    def _schedule(self, group: _Group) -> None:
        """The group's commit, once: a task, so it runs after the loop turn's ready commands."""
        if not group.scheduled and self._group is group:
            group.scheduled = True
            self._committer = asyncio.get_running_loop().create_task(
                self._commit(group), name="sqlite-group-commit"
            )
            self._committer.add_done_callback(functools.partial(self._ended, group))

    async def _undo(self, group: _Group, exc: BaseException) -> None:
        """Roll one command back to its savepoint; if SQLite dropped the transaction, all."""
        try:
            # Some errors (a full disk, an I/O error) make SQLite roll back the whole
            # transaction: the commands before this one in the group are gone too.
            if group.raw.in_transaction:
                group.raw.execute(_ROLLBACK_TO)
                group.raw.execute(_RELEASE)
                return
        except sqlite3.Error:
            log.warning("could not roll back to a command's savepoint; dropping its group")
        await self._lose(group, exc)

    async def _lose(self, group: _Group, exc: BaseException) -> None:
        """The group's transaction is gone: fail its commands, start afresh next time."""
        if self._group is group:
            self._group = None
        # Also ends SQLAlchemy's transaction object, so the next group can begin.
        with contextlib.suppress(Exception):
            await group.trans.rollback()
        if group.commands:
            log.warning(
                "a SQLite write transaction of %d command(s) was rolled back (%s); "
                "they answer 503 and may be retried",
                group.commands,
                type(exc).__name__,
            )
        if not group.done.done():
            group.done.set_result(exc)

    async def _commit(self, group: _Group) -> None:
        """Commit the group once the commands ready in this loop turn and the next joined it.

        The extra turn lets requests whose bytes arrived while the group's first commands
        ran join it too: measured +12 % call-next and +15 % issue on the bench, for a lone
        command one more pass of the loop (microseconds when the hall is quiet).
        """
        await asyncio.sleep(0)
        async with self.lock:
            await self._commit_locked(group)

    @staticmethod
    def _ended(group: _Group, task: asyncio.Task[None]) -> None:
        """A commit task that ended without telling its commands (cancelled at shutdown,
        even before its first step): they answer 503 rather than wait for ever; closing the
        connection rolls their transaction back."""
        if not group.done.done():
            cause = task.exception() if not task.cancelled() else None
            group.done.set_result(cause or asyncio.CancelledError())

    async def _commit_locked(self, group: _Group) -> None:
        if self._group is not group:  # lost meanwhile: its commands were told
            return
        self._group = None
        try:
            await group.trans.commit()
        except Exception as exc:  # noqa: BLE001 - whatever it was, its commands must hear
            log.warning("COMMIT of %d SQLite command(s) failed: %s", group.commands, exc)
            await self._lose(group, exc)
            return
        self.groups += 1
        self.commands += group.commands
        group.done.set_result(None)
        if self.on_commit is not None:
            self.on_commit()

    async def settle(self) -> None:
        """Wait for a scheduled commit (its failure was told to its commands)."""
        if self._committer is not None:
            # asyncio.wait: neither the task's failure nor its cancellation is raised here.
            await asyncio.wait({self._committer})
            self._committer = None

    async def close(self) -> None:
        """Let a scheduled commit finish, then close the connection."""
        await self.settle()
        if self._conn is not None:
            await self._conn.close()
            self._conn = None
