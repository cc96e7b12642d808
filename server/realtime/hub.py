"""The per-process hub: each hall's events, strictly in seq order, to its connections.

Events reach the hub from the broadcast subscription and from the outbox tail. For every hall
the hub keeps the last delivered ``(epoch, seq)``: a seq at or below it is a duplicate and is
dropped; the next seq is delivered to every connection of the hall; a gap wakes the tail, which
reads the missing rows from the outbox and delivers them in order. A new epoch (the database
was replaced) gives every connection of the hall a fresh snapshot.

Fan-out: each event is encoded once (``WireText``: its JSON and its websocket frame bytes are
shared by every connection) and handed to the connections by one fan-out task, in chunks of
``fanout_chunk`` with a turn of the event loop between chunks, so a hall of thousands of
screens never holds the loop (and the commands waiting on it) for a whole fan-out. Events and
heartbeats go through the same ordered job queue: every connection sees them in seq order.
Consecutive events that arrive together (a command's events, published in one go) or queue up
behind a busy fan-out travel as one job, and each connection gets them in one write: the send
per socket, not the Python around it, is what a fan-out costs.

(Re)connects are served from memory when possible: replays from a ring of the hall's last
``replay_max`` events, snapshots from one cached read per (hall, epoch, seq), shared by every
connection that asks while the read is in flight. A reconnect storm of a thousand screens
then costs one snapshot read per seq, not one database read per screen.

The tail reads the outbox every ``tail_idle_s`` while the broadcast is healthy (a safety
net) and every ``tail_degraded_s`` while it is down (then it *is* the delivery path), so
calls reach screens with Redis stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import itertools
import json
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Iterator
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
from server.realtime.printing import PrintDesk
from server.realtime.wire import WireText
from server.storage.db import Database
from server.storage.tables import devices, halls, outbox

log = logging.getLogger("hallq.hub")

SnapshotReader = Callable[[str], Awaitable[dict[str, Any]]]
CLOSE_REVOKED = 4403
CLOSE_RESTART = 1012
GC_FREEZE_EVERY = 256  # connections attached between two freezes of the heap (see ``attach``)
GC_COLLECT_FROZEN_AFTER = 1024  # ... and departures before frozen garbage is collected


@dataclass(eq=False, slots=True)
class CachedSnapshot:
    """A snapshot frame read at ``(epoch, seq)``, shared until the hall moves on or it ages."""

    epoch: str
    seq: int
    text: WireText
    read_at: float


@dataclass(eq=False)
class HallFeed:
    """What the hub knows of one hall: its epoch, last delivered seq and connections.

    ``recent`` holds the last delivered events, contiguous and ending at ``last``, for replays.
    """

    hall: str
    epoch: str
    last: int
    conns: set[Connection] = field(default_factory=set)
    recent: deque[tuple[int, WireText]] = field(default_factory=deque)
    snapshot: CachedSnapshot | None = None
    reading: asyncio.Task[CachedSnapshot] | None = None
    reading_at: tuple[str, int] = ("", -1)  # (epoch, last) when ``reading`` started
    _members: tuple[Connection, ...] | None = None

    def members(self) -> tuple[Connection, ...]:
        """``conns`` as a tuple: the same object until a connection attaches or leaves."""
        if self._members is None:
            self._members = tuple(self.conns)
        return self._members

    def join(self, conn: Connection) -> None:
        self.conns.add(conn)
        self._members = None

    def leave(self, conn: Connection) -> None:
        self.conns.discard(conn)
        self._members = None


@dataclass(eq=False, slots=True)
class _Job:
    """A heartbeat (``beat``) or a run of consecutive events for every connection of a hall.

    ``seq``/``text`` are the heartbeat's, or the run's last event; ``run`` holds every event of
    the run (one, unless events arrived together) and ``joined`` their frames back to back.
    """

    feed: HallFeed
    epoch: str
    seq: int
    text: WireText
    beat: bool = False
    conns: tuple[Connection, ...] = ()
    done: int = 0  # connections served so far
    run: list[tuple[int, WireText]] = field(default_factory=list)
    joined: bytes = b""

    def extend(self, seq: int, text: WireText) -> None:
        """Add the next event to the run (the job has not started)."""
        self.run.append((seq, text))
        self.seq, self.text = seq, text
        self.joined = b""


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
        self.snapshot_reads = 0  # snapshots read from the database (the rest came from cache)
        self.replays_from_memory = 0
        self.on_revoke: list[Callable[[str], None]] = []  # e.g. forget a cached credential
        self.printing = PrintDesk()  # print jobs to this process's kiosk agents
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._subscription: Subscription | None = None
        self._attached_unfrozen = 0  # attaches since the last gc.freeze()
        self._left_frozen = 0  # departures since frozen garbage was last collected
        self._attaches = 0
        self._attaches_checked = 0  # ``_attaches`` at the last ``collect_frozen``
        self._jobs: deque[_Job] = deque()
        self._fanout: asyncio.Task[None] | None = None
        self._gathering = False  # offer_texts is queueing events that arrived together

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
        gc.freeze()  # start-up's objects live as long as the process: keep them out of GC passes

    async def stop(self) -> None:
        """Stop the background tasks and close every connection with 1012 (restart)."""
        await self.printing.stop()
        if self._fanout is not None:
            self._tasks.append(self._fanout)
        self._jobs.clear()
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
        self.feeds[conn.hall].join(conn)
        self._attaches += 1
        self._attached_unfrozen += 1
        if self._attached_unfrozen >= GC_FREEZE_EVERY:
            # Full collections over thousands of connections paused the loop 20-600 ms;
            # moving the long-lived objects to the permanent generation avoids that. Counted
            # in attaches, not in the total: after a reconnect storm the total is back where it
            # was, and its 1,000 new connections made full collections of 90-140 ms meanwhile.
            gc.freeze()
            self._attached_unfrozen = 0

    def detach(self, conn: Connection) -> None:
        feed = self.feeds.get(conn.hall)
        if feed is not None:
            feed.leave(conn)
        self._left_frozen += 1

    def collect_frozen(self) -> bool:
        """Collect the garbage frozen connections left, once enough have gone; True if done.

        A frozen object is never collected, and a closed websocket leaves reference cycles
        (its protocol's parser is a generator holding the protocol): without this, every
        connection frozen while open would stay in memory after it closed. One full
        collection (~0.1-0.2 s at 2,000 connections) per departures as many as the
        connections open, at least ``GC_COLLECT_FROZEN_AFTER``; run from the heartbeat task
        and only when nobody attached since its last call (not in the middle of a storm).
        """
        calm = self._attaches == self._attaches_checked
        self._attaches_checked = self._attaches
        if not calm or self._left_frozen < max(GC_COLLECT_FROZEN_AFTER, self.connections):
            return False
        self._left_frozen = 0
        gc.unfreeze()
        gc.collect()
        gc.freeze()
        return True

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
        feed = self.feeds.get(hall)
        if epoch is not None and last_seq is not None:
            replay = None if feed is None else self._replay_from_memory(feed, epoch, last_seq)
            if replay is None:
                replay = await self._read_replay(hall, epoch, last_seq)
            if replay is not None:
                frames, seq = replay
                return [*frames, (ALWAYS, dumps(heartbeat_frame(epoch, seq)))], seq, "replay"
        if feed is None:  # a hall the hub does not follow (not in the database at start)
            self.snapshot_reads += 1
            state = await self.read_snapshot(hall)
            return [(ALWAYS, dumps(snapshot_frame(state)))], int(state["seq"]), "snapshot"
        snap = await self.snapshot(feed)
        return [(ALWAYS, snap.text)], snap.seq, "snapshot"

    def _replay_from_memory(
        self, feed: HallFeed, epoch: str, last_seq: int
    ) -> tuple[list[tuple[int, str]], int] | None:
        """The events after ``last_seq`` from the ring, or None when it does not reach back."""
        first = feed.recent[0][0] if feed.recent else feed.last + 1
        if epoch != feed.epoch or not first - 1 <= last_seq <= feed.last:
            return None
        self.replays_from_memory += 1
        missed = itertools.islice(feed.recent, last_seq - first + 1, None)
        return [(seq, text) for seq, text in missed], feed.last

    async def snapshot(self, feed: HallFeed) -> CachedSnapshot:
        """A snapshot no older than what the hub delivered: cached, shared or freshly read.

        A cached or in-flight read is only reused when no event was delivered since it began:
        a connection attached after that event would otherwise miss it.
        """
        cached = feed.snapshot
        if (
            cached is not None
            and cached.epoch == feed.epoch
            and cached.seq >= feed.last
            and time.monotonic() - cached.read_at <= self.options.snapshot_max_age_s
        ):
            return cached
        task = feed.reading
        if task is None or feed.reading_at != (feed.epoch, feed.last):
            task = asyncio.get_running_loop().create_task(self._read_snapshot(feed))
            task.add_done_callback(_retrieve)
            feed.reading, feed.reading_at = task, (feed.epoch, feed.last)
        # Shielded: a client that leaves mid-read must not cancel the read others wait for.
        return await asyncio.shield(task)

    async def _read_snapshot(self, feed: HallFeed) -> CachedSnapshot:
        try:
            self.snapshot_reads += 1
            state = await self.read_snapshot(feed.hall)
            snap = CachedSnapshot(
                str(state["epoch"]),
                int(state["seq"]),
                WireText(dumps(snapshot_frame(state))),
                time.monotonic(),
            )
            if snap.epoch == feed.epoch:
                feed.snapshot = snap
            return snap
        finally:
            if feed.reading is asyncio.current_task():
                feed.reading = None

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

    def offer_texts(self, texts: list[str]) -> None:
        """Event frames that arrived together: consecutive ones leave as one job (one write)."""
        with self._gathered():
            for text in texts:
                self.offer_text(text)

    @contextlib.contextmanager
    def _gathered(self) -> Iterator[None]:
        """Queue the events accepted inside, merged where consecutive; start the fan-out after."""
        self._gathering = True
        try:
            yield
        finally:
            self._gathering = False
            if self._jobs and self._fanout is None:
                self._start_fan_out()

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
        frame = WireText(text)
        feed.recent.append((seq, frame))
        if len(feed.recent) > self.options.replay_max:
            feed.recent.popleft()
        tail = self._jobs[-1] if self._jobs else None
        if (
            tail is not None
            and not tail.beat
            and tail.done == 0
            and tail.feed is feed
            and tail.epoch == epoch
            and tail.conns is feed.members()
        ):
            tail.extend(seq, frame)  # not started, same connections: one write each for both
            return
        self._fan_out(_Job(feed, epoch, seq, frame, run=[(seq, frame)]))

    # --- fan-out ----------------------------------------------------------------------------

    def _fan_out(self, job: _Job) -> None:
        """Give ``job`` to every connection of its hall, after every job queued before it.

        When nothing is queued the first chunk goes out right here (no task hop for a small
        hall); the rest, and everything queued behind it, is the fan-out task's.
        """
        job.conns = job.feed.members()
        self._jobs.append(job)
        if self._fanout is None and not self._gathering:
            self._start_fan_out()

    def _start_fan_out(self) -> None:
        """Serve the first chunk of the first job now, then leave the rest to the task."""
        if self._run(self._jobs[0], self.options.fanout_chunk):
            self._jobs.popleft()
        if self._jobs:
            self._fanout = asyncio.get_running_loop().create_task(self._fan_out_loop())

    async def _fan_out_loop(self) -> None:
        try:
            while self._jobs:
                if self._run(self._jobs[0], self.options.fanout_chunk):
                    self._jobs.popleft()
                await asyncio.sleep(0)  # let commands and reads run between chunks
        finally:
            self._fanout = None

    def _run(self, job: _Job, chunk: int) -> bool:
        """Serve up to ``chunk`` more connections of ``job``; True when it is finished."""
        if job.epoch != job.feed.epoch:
            return True  # the hall was reset meanwhile: its connections get snapshots instead
        conns = job.conns
        end = min(len(conns), job.done + chunk)
        if job.beat:
            for conn in conns[job.done : end]:
                if conn.syncing:
                    continue
                if conn.floor > job.seq:  # the client's snapshot is ahead of the hub
                    conn.push(ALWAYS, dumps(heartbeat_frame(job.epoch, conn.floor)))
                else:
                    conn.push(ALWAYS, job.text)
        elif len(job.run) == 1:
            seq, text = job.seq, job.text
            for conn in conns[job.done : end]:
                conn.push(seq, text)
        else:
            run = job.run
            if not job.joined:
                job.joined = b"".join(text.wire for _, text in run)
            joined = job.joined
            for conn in conns[job.done : end]:
                conn.push_many(run, joined)
        job.done = end
        return end >= len(conns)

    def revoke(self, device_id: str) -> None:
        """Close every connection of a revoked device with 4403."""
        for forget in self.on_revoke:
            forget(device_id)
        for feed in self.feeds.values():
            for conn in tuple(feed.conns):
                if conn.device_id == device_id:
                    conn.close(CLOSE_REVOKED, "device revoked")

    # --- background tasks -------------------------------------------------------------------

    async def _consume(self) -> None:
        sub = self._subscription
        assert sub is not None
        async for first in sub:
            texts: list[str] = []
            for message in (first, *sub.ready()):  # a command's events arrive together
                if message.resync:
                    self._wake.set()  # messages were lost: read the outbox now
                elif message.channel == CONTROL_CHANNEL:
                    self._on_control(message.data)
                else:
                    texts.append(message.data)
            if texts:
                self.offer_texts(texts)

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
        """Deliver every committed event not yet delivered, from the outbox, in order.

        The read may be older than events the broadcast delivered while it ran (taken before
        their commit, answered after their arrival): a position below ``last`` is only a
        regression when it is below what had been delivered before the read began (delivered
        means committed). Taking the race for one sent every screen of the process a snapshot
        in place of the call it was showing.
        """
        delivered = {hall: (feed.epoch, feed.last) for hall, feed in self.feeds.items()}
        async with self.db.read() as conn:
            rows = (await conn.execute(select(halls.c.id, halls.c.epoch, halls.c.seq))).all()
        for row in rows:
            feed = self.feeds.get(row.id)
            if feed is None:
                continue
            seq = int(row.seq)
            epoch_before, last_before = delivered.get(row.id, (feed.epoch, feed.last))
            regressed = seq < last_before and epoch_before == feed.epoch
            if row.epoch != feed.epoch or regressed or seq - feed.last > self.options.replay_max:
                await self._reset(feed, row.epoch, seq)
            elif seq > feed.last:
                await self._fill(feed, seq)

    async def _fill(self, feed: HallFeed, upto: int) -> None:
        async with self.db.read() as conn:
            rows = (await conn.execute(_rows_after(feed.hall, feed.last, upto))).all()
        with self._gathered():
            for r in rows:
                self._accept(feed, r.epoch, int(r.seq), _event_text(feed.hall, r))

    async def _reset(self, feed: HallFeed, epoch: str, seq: int) -> None:
        log.info("hall %s: new epoch or far behind; sending snapshots", feed.hall)
        feed.epoch, feed.last = epoch, seq
        feed.recent.clear()  # the ring holds only events contiguous up to ``last``
        gens = [(conn, conn.begin_sync()) for conn in tuple(feed.conns)]
        try:
            snap = await self.snapshot(feed)
        except BaseException:
            for conn, _ in gens:  # they would wait for a snapshot forever: let them reconnect
                conn.close(CLOSE_RESTART, "resync failed; reconnect")
            raise
        for conn, gen in gens:
            conn.finish_sync(gen, [(ALWAYS, snap.text)], snap.seq)

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self.options.heartbeat_s)
            self.beat()
            self.collect_frozen()

    def beat(self) -> None:
        """Queue a heartbeat for every connection, behind the events queued before it."""
        for feed in self.feeds.values():
            text = WireText(dumps(heartbeat_frame(feed.epoch, feed.last)))
            self._fan_out(_Job(feed, feed.epoch, feed.last, text, beat=True))

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


def _retrieve(task: asyncio.Task[Any]) -> None:
    """Mark a shared read's failure as seen: its waiters may all have gone."""
    if not task.cancelled():
        task.exception()


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
