"""The outbox relay: publish after commit, mark published, re-publish what a crash left behind.

``Relay.publish`` is the ``publish`` hook of ``Commands``: after a command commits, each
event frame goes to its ``hall_channel``; the rows are marked ``published = true`` in one small
transaction per ``mark_s`` for everything published meanwhile (a failed mark is retried).
When the broadcast is down the frames go straight to this process's hub instead (other
processes read the outbox).

The sweep finds rows still unpublished ``sweep_age_s`` after it first saw them (the process
died between commit and publish, or the broadcast was down) and publishes them again:
at-least-once, and clients drop duplicates by seq.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Sequence
from typing import Any, Protocol

from sqlalchemy import false, select, update
from sqlalchemy.exc import SQLAlchemyError

from server.domain.errors import HallqError
from server.realtime.broadcast import Broadcast, BroadcastUnavailable
from server.realtime.channels import hall_channel
from server.realtime.frames import dumps, event_frame
from server.realtime.hub import Hub
from server.realtime.options import RealtimeOptions
from server.storage.db import Database
from server.storage.tables import outbox

log = logging.getLogger("hallq.relay")
SWEEP_BATCH = 500


class Publishable(Protocol):
    """What the relay needs of a committed event (``services.unit.Published`` fits)."""

    @property
    def hall(self) -> str: ...

    @property
    def seq(self) -> int: ...

    def message(self) -> dict[str, Any]: ...


class Relay:
    """Publishes committed events and keeps the outbox's ``published`` flags honest."""

    def __init__(
        self, db: Database, broadcast: Broadcast, hub: Hub, options: RealtimeOptions | None = None
    ) -> None:
        self.db = db
        self.broadcast = broadcast
        self.hub = hub
        self.options = options or RealtimeOptions()
        self.republished = 0
        self._unmarked: dict[str, set[int]] = {}
        self._first_seen: dict[tuple[str, int], float] = {}
        self._tasks: list[asyncio.Task[None]] = []

    async def publish(self, events: Sequence[Publishable]) -> None:
        """The ``Commands`` hook: publish each event's frame, queue its row to be marked."""
        await self._send([(e.hall, e.seq, dumps(e.message())) for e in events])

    async def _send(self, items: list[tuple[str, int, str]]) -> None:
        offered = self.broadcast.remote
        if offered:
            # This process's screens need not wait for the broadcast's echo (a redis round
            # trip and the listener's turn): they get the events now, and the hub drops the
            # echo by seq. Other processes get them through the broadcast.
            self.hub.offer_texts([text for _, _, text in items])
        try:
            if not self.broadcast.healthy:
                raise BroadcastUnavailable("broadcast unhealthy")
            # A hall's events together: they reach the hubs together and each screen in one write.
            for hall, group in itertools.groupby(items, key=lambda item: item[0]):
                await self.broadcast.publish_many(hall_channel(hall), [t for _, _, t in group])
        except BroadcastUnavailable:
            # Local screens get the events now; other processes read them from the outbox.
            if not offered:
                self.hub.offer_texts([text for _, _, text in items])
            return
        # Marked in batches every ``mark_s`` by the mark loop: marking inline would cost every
        # command a second write transaction (on SQLite, a second turn of the one writer).
        for hall, seq, _ in items:
            self._unmarked.setdefault(hall, set()).add(seq)

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._loop(self.mark, self.options.mark_s), name="relay-mark"),
            asyncio.create_task(self._loop(self.sweep, self.options.sweep_s), name="relay-sweep"),
        ]

    async def stop(self) -> None:
        """Stop the loops, then mark what was published (best effort)."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        with contextlib.suppress(HallqError, SQLAlchemyError, OSError):
            await self.mark()

    async def mark(self) -> None:
        """Set ``published = true`` on the rows published since the last call."""
        if not self._unmarked:
            return
        batch, self._unmarked = self._unmarked, {}
        try:
            async with self.db.write() as conn:
                for hall, seqs in batch.items():
                    await conn.execute(
                        update(outbox)
                        .where(outbox.c.hall_id == hall, outbox.c.seq.in_(sorted(seqs)))
                        .values(published=True)
                    )
        except BaseException:
            for hall, seqs in batch.items():  # try again next time
                self._unmarked.setdefault(hall, set()).update(seqs)
            raise

    async def sweep(self) -> None:
        """Re-publish rows left unpublished for ``sweep_age_s`` (seen by this process)."""
        if not self.broadcast.healthy:
            return  # the hubs' tails deliver meanwhile; publish once the broadcast is back
        o = outbox.c
        stmt = (
            select(o.hall_id, o.seq, o.epoch, o.name, o.at, o.data)
            .where(o.published == false())
            .order_by(o.hall_id, o.seq)
            .limit(SWEEP_BATCH)
        )
        async with self.db.read() as conn:
            rows = (await conn.execute(stmt)).all()
        now = time.monotonic()
        seen = {
            (r.hall_id, int(r.seq)): self._first_seen.get((r.hall_id, r.seq), now) for r in rows
        }
        self._first_seen = seen
        stale = [r for r in rows if now - seen[(r.hall_id, int(r.seq))] >= self.options.sweep_age_s]
        if not stale:
            return
        log.info("re-publishing %d outbox rows left unpublished", len(stale))
        self.republished += len(stale)
        await self._send(
            [
                (
                    r.hall_id,
                    int(r.seq),
                    dumps(event_frame(r.hall_id, r.epoch, int(r.seq), r.name, r.at, dict(r.data))),
                )
                for r in stale
            ]
        )

    async def _loop(self, job: Any, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await job()
            except (HallqError, SQLAlchemyError, OSError) as exc:
                log.warning("relay %s: %s", getattr(job, "__name__", "job"), type(exc).__name__)
