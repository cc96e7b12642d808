"""The hub's fan-out and (re)connect paths: order, shared frames, cached snapshots, backlogs."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, cast

import pytest
from websockets.frames import Frame, Opcode

from server.realtime import hub as hub_module
from server.realtime.connection import ALWAYS, CLOSE_SLOW_CONSUMER, Connection
from server.realtime.frames import dumps, event_frame
from server.realtime.hub import HallFeed, Hub
from server.realtime.memory import MemoryBroadcast
from server.realtime.options import RealtimeOptions
from server.realtime.relay import Relay
from server.realtime.tokens import TokenLookup
from server.realtime.wire import WireText, encode_text_frame

HALL = "h"
EPOCH = "e1"


class FakeWire:
    """A socket's direct write path that records frames and can be paused like a transport."""

    def __init__(self, *, paused: bool = False) -> None:
        self.frames: list[bytes] = []
        self.paused = paused
        self.closed = False
        self._resumed = asyncio.Event()

    def open(self) -> bool:
        return not self.closed

    def writable(self) -> bool:
        return not self.closed and not self.paused

    def write(self, data: bytes) -> None:
        """One write: a frame, or several back to back (a replay, a run of events)."""
        assert self.writable(), "wrote to a paused or closed socket"
        self.frames.append(data)

    async def wait_writable(self) -> None:
        await self._resumed.wait()

    def resume(self) -> None:
        self.paused = False
        self._resumed.set()

    def payloads(self) -> list[bytes]:
        """Every frame's payload, in the order written (a write may hold several frames)."""
        return [p for data in self.frames for p in _payloads(data)]

    def received(self) -> list[dict[str, Any]]:
        return [json.loads(p) for p in self.payloads()]


def _payloads(data: bytes) -> list[bytes]:
    """The payloads of the unmasked frames in ``data``, which must end on a frame boundary."""
    out: list[bytes] = []
    pos = 0
    for _ in range(len(data)):
        if pos == len(data):
            return out
        n, head = data[pos + 1], pos + 2
        if n >= 126:
            width = 2 if n == 126 else 8
            n, head = int.from_bytes(data[head : head + width]), head + width
        out.append(data[head : head + n])
        pos = head + n
    raise AssertionError("a frame ran past the end of the write")


def _payload(frame: bytes) -> bytes:
    [payload] = _payloads(frame)
    return payload


async def never_sends(_text: str) -> None:
    raise AssertionError("the ASGI path must not be used when the connection has a wire")


class Snapshots:
    """A fake snapshot reader over a fake database position; counts reads, can hold them."""

    def __init__(self) -> None:
        self.seq = 0
        self.reads = 0
        self.gate: asyncio.Event | None = None

    async def __call__(self, hall: str) -> dict[str, Any]:
        self.reads += 1
        seq = self.seq  # the position when the read starts (a snapshot transaction)
        if self.gate is not None:
            await self.gate.wait()
        return {"hall": hall, "epoch": EPOCH, "seq": seq, "windows": [], "queues": []}


def make_hub(snapshots: Snapshots | None = None, **options: Any) -> Hub:
    no_database: Any = None  # these paths never touch it
    broadcast = MemoryBroadcast("memory://")
    hub = Hub(no_database, broadcast, snapshots or Snapshots(), RealtimeOptions(**options))
    hub.feeds = {HALL: HallFeed(HALL, EPOCH, 0)}
    return hub


def attach(hub: Hub, wire: FakeWire | None = None, **kw: Any) -> tuple[Connection, FakeWire]:
    wire = wire or FakeWire()
    conn = Connection(never_sends, hall=HALL, wire=wire, **kw)
    conn.floor = hub.feeds[HALL].last  # as if synced at the hall's position
    hub.attach(conn)
    return conn, wire


def event(seq: int, number: str = "A001") -> str:
    at = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
    return dumps(event_frame(HALL, EPOCH, seq, "ticket.called", at, {"number": number}))


def deliver(hub: Hub, snapshots: Snapshots, seq: int) -> None:
    snapshots.seq = seq
    hub.offer_text(event(seq))


async def idle(hub: Hub) -> None:
    """Let the fan-out task finish (bounded)."""
    for _ in range(1000):
        if hub._fanout is None and not hub._jobs:
            return
        await asyncio.sleep(0)
    raise AssertionError("the fan-out did not finish")


async def until(condition: Callable[[], bool]) -> None:
    for _ in range(100):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition not reached")


def kinds_and_seqs(wire: FakeWire) -> list[tuple[str, int]]:
    return [(f["type"], f["seq"]) for f in wire.received()]


# --- fan-out ---------------------------------------------------------------------------------


async def test_chunked_fan_out_keeps_each_connections_order_with_heartbeats_in_place() -> None:
    """Events and a heartbeat queued while a chunked fan-out runs reach every connection in
    seq order, the heartbeat between the events it followed and those after it."""
    snapshots = Snapshots()
    hub = make_hub(snapshots, fanout_chunk=3)
    wires = [attach(hub)[1] for _ in range(10)]
    deliver(hub, snapshots, 1)
    deliver(hub, snapshots, 2)
    hub.beat()
    deliver(hub, snapshots, 3)
    served = sorted(len(w.frames) for w in wires)
    assert served == [0] * 7 + [1] * 3, "the first chunk goes out at once, the rest waits"
    await idle(hub)
    expected = [("event", 1), ("event", 2), ("heartbeat", 2), ("event", 3)]
    for wire in wires:
        assert kinds_and_seqs(wire) == expected


async def test_fan_out_yields_to_the_loop_between_chunks() -> None:
    """Other work scheduled during a large fan-out runs before the fan-out ends."""
    snapshots = Snapshots()
    hub = make_hub(snapshots, fanout_chunk=5)
    wires = [attach(hub)[1] for _ in range(50)]
    seen: list[int] = []
    deliver(hub, snapshots, 1)
    asyncio.get_running_loop().call_soon(lambda: seen.append(sum(len(w.frames) for w in wires)))
    await idle(hub)
    assert seen and 5 <= seen[0] < 50
    assert all(len(w.frames) == 1 for w in wires)


async def test_every_connection_gets_the_same_encoded_bytes() -> None:
    """An event is encoded once: all connections are written the very same bytes object."""
    snapshots = Snapshots()
    hub = make_hub(snapshots)
    wires = [attach(hub)[1] for _ in range(4)]
    deliver(hub, snapshots, 1)
    await idle(hub)
    assert len({id(w.frames[0]) for w in wires}) == 1


async def test_events_that_arrive_together_reach_each_connection_in_one_write() -> None:
    """A command's events offered together go out as one run: every connection, in every
    chunk, gets them in one write, in order, and all share the same bytes."""
    snapshots = Snapshots()
    hub = make_hub(snapshots, fanout_chunk=3)
    wires = [attach(hub)[1] for _ in range(10)]
    snapshots.seq = 2
    hub.offer_texts([event(1), event(2)])
    await idle(hub)
    for wire in wires:
        assert len(wire.frames) == 1
        assert kinds_and_seqs(wire) == [("event", 1), ("event", 2)]
    assert len({id(w.frames[0]) for w in wires}) == 1
    assert [seq for seq, _ in hub.feeds[HALL].recent] == [1, 2]


async def test_events_queued_behind_a_busy_fan_out_merge_until_the_connections_change() -> None:
    """Events waiting behind a fan-out in progress join one run; a connection attached
    meanwhile starts a new job, and gets only the events after its sync."""
    snapshots = Snapshots()
    hub = make_hub(snapshots, fanout_chunk=2)
    wires = [attach(hub)[1] for _ in range(4)]
    deliver(hub, snapshots, 1)  # the first chunk goes out now, the rest is queued
    deliver(hub, snapshots, 2)
    deliver(hub, snapshots, 3)  # joins 2: that job has not started
    late, late_wire = attach(hub)  # synced at 3
    deliver(hub, snapshots, 4)  # the connections changed: a job of its own
    assert [len(job.run) for job in hub._jobs] == [1, 2, 1]
    await idle(hub)
    for wire in wires:
        assert [len(_payloads(data)) for data in wire.frames] == [1, 2, 1]
        assert [seq for _, seq in kinds_and_seqs(wire)] == [1, 2, 3, 4]
    assert late.floor == 4 and kinds_and_seqs(late_wire) == [("event", 4)]


async def test_a_run_skips_what_a_connection_already_has() -> None:
    """A connection whose floor is inside a run gets only the newer events, still one write."""
    texts = [(seq, WireText(event(seq))) for seq in (1, 2, 3)]
    joined = b"".join(t.wire for _, t in texts)
    conn = Connection(never_sends, hall=HALL, wire=(wire := FakeWire()))
    conn.floor = 1
    conn.push_many(texts, joined)
    assert len(wire.frames) == 1 and [s for _, s in kinds_and_seqs(wire)] == [2, 3]
    conn.push_many(texts, joined)
    assert len(wire.frames) == 1, "nothing new: nothing written"
    paused = Connection(never_sends, hall=HALL, wire=FakeWire(paused=True))
    paused.push_many(texts, joined)
    assert paused.backlog == 3 and paused.floor == 3


async def test_a_hall_reset_drops_queued_events_of_the_old_epoch() -> None:
    """Jobs of an epoch the hall has left are not delivered (snapshots replace them)."""
    snapshots = Snapshots()
    hub = make_hub(snapshots, fanout_chunk=1)
    wires = [attach(hub)[1] for _ in range(3)]
    deliver(hub, snapshots, 1)
    hub.feeds[HALL].epoch = "e2"  # what _reset does first
    await idle(hub)
    assert sorted(len(w.frames) for w in wires) == [0, 0, 1]


# --- the outbox tail -------------------------------------------------------------------------


class HallsRead:
    """A database whose ``halls`` read reports ``seq``; ``during`` runs while it is in flight
    (the broadcast delivering an event committed after the read's snapshot was taken)."""

    def __init__(self, seq: int, during: Callable[[], None] = lambda: None) -> None:
        self.seq = seq
        self.during = during

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[HallsRead]:
        yield self

    async def execute(self, _stmt: Any) -> Any:
        self.during()
        await asyncio.sleep(0)
        row = SimpleNamespace(id=HALL, epoch=EPOCH, seq=self.seq)
        return SimpleNamespace(all=lambda: [row])


async def test_a_tail_read_older_than_a_delivered_event_changes_nothing() -> None:
    """Event 2 arrives by the broadcast while the tail's read (taken at seq 1) is in flight:
    the screens keep their events; no snapshot replaces the call."""
    snapshots = Snapshots()
    hub = make_hub(snapshots)
    wires = [attach(hub)[1] for _ in range(3)]
    deliver(hub, snapshots, 1)
    hub.db = cast(Any, HallsRead(1, during=lambda: deliver(hub, snapshots, 2)))
    await hub.catch_up()
    await idle(hub)
    assert snapshots.reads == 0
    for wire in wires:
        assert kinds_and_seqs(wire) == [("event", 1), ("event", 2)]


async def test_a_position_below_what_was_delivered_before_the_read_resets_the_hall() -> None:
    """A database behind events delivered before the read began (restored, say) is a real
    regression: every screen gets a snapshot at the database's position."""
    snapshots = Snapshots()
    hub = make_hub(snapshots)
    wires = [attach(hub)[1] for _ in range(2)]
    deliver(hub, snapshots, 1)
    deliver(hub, snapshots, 2)
    snapshots.seq = 1
    hub.db = cast(Any, HallsRead(1))
    await hub.catch_up()
    await idle(hub)
    assert snapshots.reads == 1 and hub.feeds[HALL].last == 1
    for wire in wires:
        assert kinds_and_seqs(wire) == [("event", 1), ("event", 2), ("snapshot", 1)]


# --- snapshots and replays -------------------------------------------------------------------


async def sync(
    hub: Hub, conn: Connection, epoch: str | None = None, last: int | None = None
) -> str:
    return await hub.sync(conn, epoch, last)


async def test_snapshot_is_shared_for_the_same_seq_and_fresh_after_an_event() -> None:
    """Two syncs at the same seq share one read and one frame; after an event, a new read."""
    snapshots = Snapshots()
    hub = make_hub(snapshots, snapshot_max_age_s=60)
    (a, wa), (b, wb) = attach(hub), attach(hub)
    assert await sync(hub, a) == "snapshot" and await sync(hub, b) == "snapshot"
    assert snapshots.reads == 1 and wa.frames[0] is wb.frames[0]
    deliver(hub, snapshots, 1)
    c, wc = attach(hub)
    await sync(hub, c)
    assert snapshots.reads == 2
    assert wc.received()[0]["type"] == "snapshot" and wc.received()[0]["seq"] == 1


async def test_cached_snapshot_ages_out() -> None:
    """A snapshot older than snapshot_max_age_s is read again even without an event."""
    snapshots = Snapshots()
    hub = make_hub(snapshots, snapshot_max_age_s=0.0)
    a, b = attach(hub)[0], attach(hub)[0]
    await sync(hub, a)
    await asyncio.sleep(0.01)
    await sync(hub, b)
    assert snapshots.reads == 2


async def test_reconnect_storm_reads_the_snapshot_once_per_seq() -> None:
    """Fifty screens syncing while one read is in flight share it; the next seq, one more."""
    snapshots = Snapshots()
    snapshots.gate = asyncio.Event()
    hub = make_hub(snapshots, snapshot_max_age_s=60)
    first = [attach(hub) for _ in range(50)]
    tasks = [asyncio.create_task(sync(hub, c)) for c, _ in first]
    await asyncio.sleep(0)
    snapshots.gate.set()
    assert await asyncio.gather(*tasks) == ["snapshot"] * 50
    assert snapshots.reads == 1
    deliver(hub, snapshots, 1)
    await idle(hub)
    second = [attach(hub) for _ in range(50)]
    await asyncio.gather(*(sync(hub, c) for c, _ in second))
    assert snapshots.reads == 2
    for _, wire in first:
        assert kinds_and_seqs(wire) == [("snapshot", 0), ("event", 1)]
    for _, wire in second:
        assert kinds_and_seqs(wire) == [("snapshot", 1)]


async def test_a_read_begun_before_an_event_is_not_shared_with_later_connections() -> None:
    """A connection attached after an event never takes a snapshot read begun before it
    (it would miss that event): it starts its own read."""
    snapshots = Snapshots()
    snapshots.gate = asyncio.Event()
    hub = make_hub(snapshots, snapshot_max_age_s=60)
    early, early_wire = attach(hub)
    t1 = asyncio.create_task(sync(hub, early))
    await until(lambda: snapshots.reads == 1)  # the read of seq 0 is in flight
    deliver(hub, snapshots, 1)
    late, late_wire = attach(hub)
    t2 = asyncio.create_task(sync(hub, late))
    await asyncio.sleep(0)
    snapshots.gate.set()
    await asyncio.gather(t1, t2)
    assert snapshots.reads == 2
    assert kinds_and_seqs(early_wire) == [("snapshot", 0), ("event", 1)]
    assert kinds_and_seqs(late_wire) == [("snapshot", 1)]


async def test_a_client_leaving_mid_read_does_not_cancel_the_shared_read() -> None:
    """Cancelling one waiter of a shared snapshot read leaves it running for the others."""
    snapshots = Snapshots()
    snapshots.gate = asyncio.Event()
    hub = make_hub(snapshots, snapshot_max_age_s=60)
    (a, _), (b, wb) = attach(hub), attach(hub)
    ta, tb = asyncio.create_task(sync(hub, a)), asyncio.create_task(sync(hub, b))
    await asyncio.sleep(0)
    ta.cancel()
    snapshots.gate.set()
    assert await tb == "snapshot" and snapshots.reads == 1
    assert kinds_and_seqs(wb) == [("snapshot", 0)]


async def test_replay_is_served_from_the_ring_of_recent_events() -> None:
    """A reconnect whose last_seq is in the ring gets the missed events and a heartbeat from
    memory (the hub here has no database at all)."""
    snapshots = Snapshots()
    hub = make_hub(snapshots)
    for seq in range(1, 6):
        deliver(hub, snapshots, seq)
    conn, wire = attach(hub)
    conn.floor = -1
    assert await sync(hub, conn, EPOCH, 2) == "replay"
    assert kinds_and_seqs(wire) == [("event", 3), ("event", 4), ("event", 5), ("heartbeat", 5)]
    assert hub.replays_from_memory == 1 and snapshots.reads == 0


def test_the_ring_keeps_only_the_last_replay_max_events() -> None:
    """The ring is bounded by replay_max and stays contiguous up to the last seq."""
    snapshots = Snapshots()
    hub = make_hub(snapshots, replay_max=3)
    for seq in range(1, 8):
        deliver(hub, snapshots, seq)
    assert [s for s, _ in hub.feeds[HALL].recent] == [5, 6, 7]
    assert hub._replay_from_memory(hub.feeds[HALL], EPOCH, 3) is None
    assert hub._replay_from_memory(hub.feeds[HALL], "other", 6) is None
    replay = hub._replay_from_memory(hub.feeds[HALL], EPOCH, 4)
    assert replay is not None and [s for s, _ in replay[0]] == [5, 6, 7]


# --- garbage collection ---------------------------------------------------------------------


class GcCalls:
    """Stands in for the ``gc`` module in the hub: records freezes and full collections."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def freeze(self) -> None:
        self.calls.append("freeze")

    def unfreeze(self) -> None:
        self.calls.append("unfreeze")

    def collect(self) -> int:
        self.calls.append("collect")
        return 0


async def test_a_reconnect_storm_freezes_its_new_connections(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The heap is frozen every GC_FREEZE_EVERY attaches, also when a storm's reconnects only
    bring the total back to where it was (their objects stay out of full collections)."""
    gc_calls = GcCalls()
    monkeypatch.setattr(hub_module, "gc", gc_calls)
    hub = make_hub()
    conns = [attach(hub)[0] for _ in range(2000)]
    assert gc_calls.calls.count("freeze") == 2000 // hub_module.GC_FREEZE_EVERY
    gc_calls.calls.clear()
    for conn in conns[:1000]:
        hub.detach(conn)
    for _ in range(1000):
        attach(hub)
    every = hub_module.GC_FREEZE_EVERY
    assert gc_calls.calls == ["freeze"] * ((2000 + 1000) // every - 2000 // every)


async def test_garbage_of_frozen_connections_is_collected_once_enough_left_and_all_is_calm(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """After as many departures as open connections (at least GC_COLLECT_FROZEN_AFTER), the
    next calm heartbeat collects once (unfreeze, collect, freeze); never while attaching."""
    gc_calls = GcCalls()
    monkeypatch.setattr(hub_module, "gc", gc_calls)
    hub = make_hub()
    after = hub_module.GC_COLLECT_FROZEN_AFTER
    conns = [attach(hub)[0] for _ in range(after)]
    for conn in conns[: after - 1]:
        hub.detach(conn)
    gc_calls.calls.clear()
    assert not hub.collect_frozen(), "not enough have left"
    hub.detach(conns[-1])
    attach(hub)
    assert not hub.collect_frozen(), "a connection attached since the last heartbeat"
    assert hub.collect_frozen()
    assert gc_calls.calls == ["unfreeze", "collect", "freeze"]
    assert not hub.collect_frozen(), "counted again from zero"


# --- one connection's backlog ----------------------------------------------------------------


async def test_writable_connection_writes_at_once_without_a_task() -> None:
    """A frame pushed to a writable socket is written immediately; no backlog, no task."""
    conn = Connection(never_sends, hall=HALL, wire=(wire := FakeWire()))
    conn.push(1, "a")
    conn.push(ALWAYS, WireText("b"))
    assert [_payload(f) for f in wire.frames] == [b"a", b"b"]
    assert conn.backlog == 0 and conn._drainer is None


async def test_a_replay_and_the_events_parked_behind_it_leave_in_one_write() -> None:
    """finish_sync writes the replay, its heartbeat and the parked newer events at once: a
    reconnect storm costs a send per screen, not one per missed event."""
    conn = Connection(never_sends, hall=HALL, wire=(wire := FakeWire()), queue_size=4)
    gen = conn.begin_sync()
    for seq in (9, 10, 11, 12):  # parked while the replay was read; 9 and 10 are in it
        conn.push(seq, event(seq))
    replay: list[tuple[int, str]] = [(seq, event(seq)) for seq in range(1, 11)]
    heartbeat = json.dumps({"type": "heartbeat", "epoch": EPOCH, "seq": 10})
    assert conn.finish_sync(gen, [*replay, (ALWAYS, heartbeat)], 10)
    assert len(wire.frames) == 1
    assert kinds_and_seqs(wire) == [("event", s) for s in range(1, 11)] + [
        ("heartbeat", 10),
        ("event", 11),
        ("event", 12),
    ]
    assert conn.floor == 12 and conn.close_code is None and conn.backlog == 0
    conn.push(13, event(13))
    assert len(wire.frames) == 2, "live events after the sync are written one by one again"


async def test_paused_socket_backlog_drains_in_order_when_it_resumes() -> None:
    """Frames pushed while the transport is paused wait, then go out in order, in one write."""
    conn = Connection(
        never_sends, hall=HALL, wire=(wire := FakeWire(paused=True)), on_close=lambda c: None
    )
    for seq in range(1, 4):
        conn.push(seq, f"e{seq}")
    assert conn.backlog == 3 and not wire.frames
    wire.resume()
    for _ in range(100):
        if conn._drainer is None:
            break
        await asyncio.sleep(0)
    conn.push(4, "e4")
    assert wire.payloads() == [b"e1", b"e2", b"e3", b"e4"]
    assert len(wire.frames) == 2, "the backlog in one write, then e4 directly"
    assert conn.backlog == 0


async def test_slow_consumer_is_closed_1013_and_the_endpoint_told_once() -> None:
    """The frame that finds a paused socket's backlog full closes the connection with 1013."""
    told: list[int | None] = []
    conn = Connection(
        never_sends,
        hall=HALL,
        queue_size=4,
        wire=FakeWire(paused=True),
        on_close=lambda c: told.append(c.close_code),
    )
    for seq in range(1, 5):
        conn.push(seq, f"e{seq}")
    assert conn.close_code is None
    conn.push(5, "e5")
    conn.push(6, "e6")
    assert conn.close_code == CLOSE_SLOW_CONSUMER and told == [CLOSE_SLOW_CONSUMER]
    assert conn.floor == 4
    await conn.stop()


async def test_slow_consumer_in_a_hub_fan_out_leaves_the_others_alone() -> None:
    """One paused screen among many is closed 1013; the others get every event in order."""
    snapshots = Snapshots()
    hub = make_hub(snapshots, queue_size=3, fanout_chunk=4)
    slow, _ = attach(hub, FakeWire(paused=True), queue_size=3, on_close=lambda c: None)
    others = [attach(hub, queue_size=3)[1] for _ in range(9)]
    for seq in range(1, 6):
        deliver(hub, snapshots, seq)
    await idle(hub)
    assert slow.close_code == CLOSE_SLOW_CONSUMER
    for wire in others:
        assert [s for _, s in kinds_and_seqs(wire)] == [1, 2, 3, 4, 5]
    await slow.stop()


async def test_lost_socket_stops_the_connection() -> None:
    """A socket found closed is reported to the endpoint and not written again."""
    told: list[Connection] = []
    wire = FakeWire()
    conn = Connection(never_sends, hall=HALL, wire=wire, on_close=told.append)
    wire.closed = True
    conn.push(1, "e1")
    assert conn.gone and told == [conn] and not wire.frames


async def test_without_a_wire_frames_go_through_the_asgi_send_in_order() -> None:
    """With no direct path (another ASGI server) the backlog is sent through ``send_text``."""
    sent: list[str] = []

    async def send_text(text: str) -> None:
        await asyncio.sleep(0)
        sent.append(text)

    conn = Connection(send_text, hall=HALL, on_close=lambda c: None)
    for seq in range(1, 6):
        conn.push(seq, f"e{seq}")
    for _ in range(100):
        if conn._drainer is None:
            break
        await asyncio.sleep(0)
    assert sent == ["e1", "e2", "e3", "e4", "e5"]


# --- frames ----------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 70000])
def test_encoded_frame_is_what_websockets_would_send(size: int) -> None:
    """The shared frame bytes equal websockets' own unmasked text frame, at every length form."""
    text = ("号" * size)[: size // 3] + "x" * (size - 3 * (size // 3))
    expected = Frame(Opcode.TEXT, text.encode()).serialize(mask=False, extensions=[])
    assert encode_text_frame(text) == expected
    assert WireText(text).wire == expected


# --- hello tokens ----------------------------------------------------------------------------


def lookup(found: Callable[[str], Any], **kw: Any) -> tuple[TokenLookup[str], list[int]]:
    sizes: list[int] = []

    async def fetch(batch: dict[str, str]) -> dict[str, str | Exception]:
        sizes.append(len(batch))
        await asyncio.sleep(0)
        return {digest: found(token) for digest, token in batch.items()}

    return TokenLookup(fetch, **kw), sizes


async def test_concurrent_hellos_share_one_read_and_accepted_tokens_are_kept() -> None:
    """A hundred hellos of twenty tokens arriving together cost one read of twenty tokens;
    a hello just after is answered from the cache."""
    tokens, sizes = lookup(lambda t: f"actor-{t}")
    names = [f"t{i % 20}" for i in range(100)]
    actors = await asyncio.gather(*(tokens.resolve(n) for n in names))
    assert actors == [f"actor-{n}" for n in names]
    assert sizes == [20]
    assert await tokens.resolve("t3") == "actor-t3" and sizes == [20]


async def test_refused_tokens_are_not_kept_and_forget_drops_a_credential() -> None:
    """A refusal is re-checked every time; ``forget`` makes the next hello read again."""

    def found(token: str) -> Any:
        return PermissionError("refused") if token == "bad" else f"actor-{token}"

    tokens, sizes = lookup(found)
    for _ in range(2):
        with pytest.raises(PermissionError):
            await tokens.resolve("bad")
    assert sizes == [1, 1]
    await tokens.resolve("good")
    tokens.forget(lambda actor: actor == "actor-good")
    await tokens.resolve("good")
    assert sizes == [1, 1, 1, 1]


async def test_a_failed_read_fails_every_waiting_hello_and_is_not_kept() -> None:
    """The store being unavailable reaches every hello of the batch; the next one retries."""
    calls = 0

    async def fetch(batch: dict[str, str]) -> dict[str, str | Exception]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("store down")
        return dict.fromkeys(batch, "actor")

    tokens: TokenLookup[str] = TokenLookup(fetch)
    results = await asyncio.gather(*(tokens.resolve("t") for _ in range(5)), return_exceptions=True)
    assert all(isinstance(r, ConnectionError) for r in results)
    assert await tokens.resolve("t") == "actor" and calls == 2


class SilentRemote(MemoryBroadcast):
    """A remote broadcast whose echo has not come back yet (redis a round trip away)."""

    remote = True

    def __init__(self) -> None:
        super().__init__("redis://silent")
        self.published: list[str] = []

    @property
    def healthy(self) -> bool:
        return True

    async def publish_many(self, channel: str, texts: list[str]) -> None:
        self.published.extend(texts)


@dataclass(frozen=True)
class Committed:
    """What the relay publishes after a commit (``services.unit.Published`` in the server)."""

    hall: str
    seq: int

    def message(self) -> dict[str, Any]:
        return json.loads(event(self.seq))  # type: ignore[no-any-return]


async def test_this_processs_screens_do_not_wait_for_the_broadcasts_echo() -> None:
    """With redis, the relay hands committed events to its own hub at once; the echo that
    comes back later is dropped by seq, and other processes still get them through redis."""
    hub = make_hub()
    _, wire = attach(hub)
    remote = SilentRemote()
    relay = Relay(cast(Any, None), remote, hub)  # publishing never touches the database
    await relay.publish([Committed(HALL, 1), Committed(HALL, 2)])
    await idle(hub)
    assert kinds_and_seqs(wire) == [("event", 1), ("event", 2)]
    assert len(remote.published) == 2
    for text in remote.published:  # the echo
        hub.offer_text(text)
    await idle(hub)
    assert kinds_and_seqs(wire) == [("event", 1), ("event", 2)]
    assert hub.duplicates == 2
