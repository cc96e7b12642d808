"""The per-process hub: each hall's events, strictly in seq order, to its connections.

Events reach the hub from the broadcast subscription and from the outbox tail. For every hall
the hub keeps the last delivered ``(epoch, seq)``: a seq at or below it is a duplicate and is
dropped; the next seq is delivered to every connection of the hall (a plain loop of
``put_nowait`` into bounded queues, never a gather of sends); a gap wakes the tail, which
reads the missing rows from the outbox and delivers them in order. A new epoch (the database
was replaced) gives every connection of the hall a fresh snapshot.

The tail reads the outbox every ``tail_idle_s`` while the broadcast is healthy (a safety
net) and every ``tail_degraded_s`` while it is down (then it *is* the delivery path), so
calls reach screens with Redis stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from server.domain.errors import HallqError
from server.realtime.broadcast import Broadcast, Subscription
from server.realtime.channels import CONTROL_CHANNEL, hall_channel
from server.realtime.connection import ALWAYS, Connection
from server.realtime.frames import dumps, event_frame, heartbeat_frame, snapshot_frame
from server.realtime.options import RealtimeOptions
from server.storage.db import Database
from server.storage.tables import devices, halls, outbox

log = logging.getLogger("hallq.hub")

SnapshotReader = Callable[[str], Awaitable[dict[str, Any]]]
CLOSE_REVOKED = 4403
CLOSE_RESTART = 1012
GC_FREEZE_FROM = 256  # freeze the heap after the connection ramp (see performance.md)


@dataclass(eq=False)
class HallFeed:
    """What the hub knows of one hall: its epoch, last delivered seq and connections."""

    hall: str
    epoch: str
    last: int
    conns: set[Connection] = field(default_factory=set)


class Hub:
    """Orders, deduplicates and fans out hall events; owns the tail, heartbeat and revocation."""

    def __init__(
        self,
        db: Database,
        broadcast: Broadcast,
        read_snapshot: SnapshotReader,
        options: RealtimeOptions | None = None,
    ) -> None:
        self.db = db
        self.broadcast = broadcast
        self.read_snapshot = read_snapshot
        self.options = options or RealtimeOptions()
        self.feeds: dict[str, HallFeed] = {}
        self.duplicates = 0
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._subscription: Subscription | None = None
        self._freeze_at = GC_FREEZE_FROM

    # --- life cycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Read every hall's position, subscribe to their channels, start the background tasks."""
        async with self.db.read() as conn:
            rows = (await conn.execute(select(halls.c.id, halls.c.epoch, halls.c.seq))).all()
        self.feeds = {r.id: HallFeed(r.id, r.epoch, int(r.seq)) for r in rows}
        channels = [hall_channel(h) for h in self.feeds]
        self._subscription = await self.broadcast.subscribe(CONTROL_CHANNEL, *channels)
        for name, job in (
            ("consume", self._consume),
            ("tail", self._tail),
            ("heartbeat", self._heartbeat),
            ("revocation", self._revocation),
        ):
            self._tasks.append(asyncio.create_task(_supervised(name, job), name=f"hub-{name}"))

    async def stop(self) -> None:
        """Stop the background tasks and close every connection with 1012 (restart)."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        if self._subscription is not None:
            await self._subscription.close()
        for feed in self.feeds.values():
            for conn in tuple(feed.conns):
                conn.close(CLOSE_RESTART, "server restarting; reconnect")

    # --- connections ------------------------------------------------------------------------

    def attach(self, conn: Connection) -> None:
        self.feeds[conn.hall].conns.add(conn)
        total = self.connections
        if total >= self._freeze_at:
            # Full collections over thousands of connections paused the loop 20-600 ms;
            # moving the long-lived objects to the permanent generation avoids that.
            gc.freeze()
            self._freeze_at *= 2

    def detach(self, conn: Connection) -> None:
        feed = self.feeds.get(conn.hall)
        if feed is not None:
            feed.conns.discard(conn)

    @property
    def connections(self) -> int:
        return sum(len(f.conns) for f in self.feeds.values())

    async def sync(self, conn: Connection, epoch: str | None, last_seq: int | None) -> str:
        """Bring ``conn`` up to date: a replay of missed events when possible, else a snapshot.

        Returns ``"replay"`` or ``"snapshot"``. Live events arriving meanwhile are parked and
        follow in order.
        """
        gen = conn.begin_sync()
        frames, floor, kind = await self._read_sync(conn.hall, epoch, last_seq)
        conn.finish_sync(gen, frames, floor)
        return kind

    async def _read_sync(
        self, hall: str, epoch: str | None, last_seq: int | None
    ) -> tuple[list[tuple[int, str]], int, str]:
        if epoch is not None and last_seq is not None:
            replay = await self._read_replay(hall, epoch, last_seq)
            if replay is not None:
                frames, seq = replay
                return [*frames, (ALWAYS, dumps(heartbeat_frame(epoch, seq)))], seq, "replay"
        state = await self.read_snapshot(hall)
        return [(ALWAYS, dumps(snapshot_frame(state)))], int(state["seq"]), "snapshot"

    async def _read_replay(
        self, hall: str, epoch: str, last_seq: int
    ) -> tuple[list[tuple[int, str]], int] | None:
        async with self.db.read(snapshot=True) as conn:
            pos = (
                await conn.execute(select(halls.c.epoch, halls.c.seq).where(halls.c.id == hall))
            ).one()
            current = int(pos.seq)
            if pos.epoch != epoch or not 0 <= current - last_seq <= self.options.replay_max:
                return None
            rows = (await conn.execute(_rows_after(hall, last_seq, current))).all()
        if len(rows) != current - last_seq:
            return None  # rows missing (purged): only a snapshot is complete
        return [(r.seq, _event_text(hall, r)) for r in rows], current

    # --- delivery ---------------------------------------------------------------------------

    def offer_text(self, text: str) -> None:
        """An event frame as JSON text (from the broadcast or the relay) into the ordering."""
        try:
            frame = json.loads(text)
            hall, epoch, seq = frame["hall"], frame["epoch"], frame["seq"]
        except (ValueError, TypeError, KeyError):
            log.warning("ignored a malformed broadcast message (%d bytes)", len(text))
            return
        feed = self.feeds.get(hall) if isinstance(hall, str) else None
        if feed is None or not isinstance(seq, int) or not isinstance(epoch, str):
            return
        self._accept(feed, epoch, seq, text)

    def _accept(self, feed: HallFeed, epoch: str, seq: int, text: str) -> None:
        if epoch != feed.epoch:
            self._wake.set()  # the tail confirms a new epoch from the database
            return
        if seq <= feed.last:
            self.duplicates += 1
            return
        if seq != feed.last + 1:
            self._wake.set()  # a gap: the tail reads the missing rows and delivers in order
            return
        feed.last = seq
        for conn in tuple(feed.conns):
            conn.push(seq, text)

    def revoke(self, device_id: str) -> None:
        """Close every connection of a revoked device with 4403."""
        for feed in self.feeds.values():
            for conn in tuple(feed.conns):
                if conn.device_id == device_id:
                    conn.close(CLOSE_REVOKED, "device revoked")

    # --- background tasks -------------------------------------------------------------------

    async def _consume(self) -> None:
        assert self._subscription is not None
        async for message in self._subscription:
            if message.resync:
                self._wake.set()  # messages were lost: read the outbox now
            elif message.channel == CONTROL_CHANNEL:
                self._on_control(message.data)
            else:
                self.offer_text(message.data)

    def _on_control(self, data: str) -> None:
        with contextlib.suppress(ValueError, TypeError, KeyError):
            message = json.loads(data)
            if message["type"] == "device.revoked" and isinstance(message["device"], str):
                self.revoke(message["device"])

    async def _tail(self) -> None:
        while True:
            o = self.options
            interval = o.tail_idle_s if self.broadcast.healthy else o.tail_degraded_s
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), interval)
            self._wake.clear()
            await self.catch_up()

    async def catch_up(self) -> None:
        """Deliver every committed event not yet delivered, from the outbox, in order."""
        async with self.db.read() as conn:
            rows = (await conn.execute(select(halls.c.id, halls.c.epoch, halls.c.seq))).all()
        for row in rows:
            feed = self.feeds.get(row.id)
            if feed is None:
                continue
            seq = int(row.seq)
            behind = seq - feed.last
            if row.epoch != feed.epoch or behind < 0 or behind > self.options.replay_max:
                await self._reset(feed, row.epoch, seq)
            elif behind > 0:
                await self._fill(feed, seq)

    async def _fill(self, feed: HallFeed, upto: int) -> None:
        async with self.db.read() as conn:
            rows = (await conn.execute(_rows_after(feed.hall, feed.last, upto))).all()
        for r in rows:
            self._accept(feed, r.epoch, int(r.seq), _event_text(feed.hall, r))

    async def _reset(self, feed: HallFeed, epoch: str, seq: int) -> None:
        log.info("hall %s: new epoch or far behind; sending snapshots", feed.hall)
        feed.epoch, feed.last = epoch, seq
        gens = [(conn, conn.begin_sync()) for conn in tuple(feed.conns)]
        try:
            state = await self.read_snapshot(feed.hall)
        except BaseException:
            for conn, _ in gens:  # they would wait for a snapshot forever: let them reconnect
                conn.close(CLOSE_RESTART, "resync failed; reconnect")
            raise
        text = dumps(snapshot_frame(state))
        for conn, gen in gens:
            conn.finish_sync(gen, [(ALWAYS, text)], int(state["seq"]))

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self.options.heartbeat_s)
            for feed in self.feeds.values():
                text = dumps(heartbeat_frame(feed.epoch, feed.last))
                for conn in tuple(feed.conns):
                    if conn.syncing:
                        continue
                    if conn.floor > feed.last:  # the client's snapshot is ahead of the hub
                        conn.push(ALWAYS, dumps(heartbeat_frame(feed.epoch, conn.floor)))
                    else:
                        conn.push(ALWAYS, text)

    async def _revocation(self) -> None:
        while True:
            await asyncio.sleep(self.options.revocation_s)
            await self.close_revoked()

    async def close_revoked(self) -> None:
        """One query for all connected devices; revoked ones are closed with 4403."""
        ids = sorted({c.device_id for f in self.feeds.values() for c in f.conns if c.device_id})
        if not ids:
            return
        revoked: list[str] = []
        async with self.db.read() as conn:
            for i in range(0, len(ids), 500):
                chunk = ids[i : i + 500]
                stmt = select(devices.c.id).where(
                    devices.c.id.in_(chunk), devices.c.revoked_at.is_not(None)
                )
                revoked += list((await conn.execute(stmt)).scalars())
        for device_id in revoked:
            self.revoke(device_id)


def _rows_after(hall: str, after: int, upto: int) -> Any:
    o = outbox.c
    return (
        select(o.seq, o.epoch, o.name, o.at, o.data)
        .where(o.hall_id == hall, o.seq > after, o.seq <= upto)
        .order_by(o.seq)
    )


def _event_text(hall: str, row: Any) -> str:
    return dumps(event_frame(hall, row.epoch, int(row.seq), row.name, row.at, dict(row.data)))


async def _supervised(name: str, job: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run a background job forever: log a failure in one line, back off, start again."""
    delay = 0.1
    while True:
        try:
            await job()
            return
        except (HallqError, SQLAlchemyError, OSError) as exc:
            log.warning("hub %s: %s; retrying in %.1f s", name, type(exc).__name__, delay)
        except Exception:
            log.exception("hub %s failed; restarting in %.1f s", name, delay)
        await asyncio.sleep(delay)
        delay = min(delay * 2, 2.0)
