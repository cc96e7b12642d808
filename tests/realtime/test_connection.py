"""The per-connection send queue: bounds, the slow-consumer close and sync ordering."""

from __future__ import annotations

import asyncio

from server.realtime.connection import ALWAYS, CLOSE_SLOW_CONSUMER, Connection


async def never_sends(_text: str) -> None:
    await asyncio.Event().wait()


def test_full_queue_closes_with_1013() -> None:
    """The frame that finds the queue full closes the connection with 1013 and is not queued."""
    conn = Connection(never_sends, hall="h", queue_size=4)
    for seq in range(1, 5):
        conn.push(seq, f"e{seq}")
    assert conn.close_code is None
    conn.push(5, "e5")
    assert conn.close_code == CLOSE_SLOW_CONSUMER and conn.closed.is_set()
    assert conn.floor == 4


def test_sync_sends_snapshot_first_then_only_newer_parked_events() -> None:
    """Events parked during a snapshot read follow it, minus those the snapshot already holds."""
    sent: list[str] = []
    conn = Connection(never_sends, hall="h", queue_size=8)
    gen = conn.begin_sync()
    for seq in (5, 6, 7):
        conn.push(seq, f"e{seq}")
    assert conn.finish_sync(gen, [(ALWAYS, "snap@6")], 6)
    while not conn._queue.empty():
        sent.append(conn._queue.get_nowait())
    assert sent == ["snap@6", "e7"]
    conn.push(7, "dup")
    assert conn._queue.empty()


def test_superseded_sync_is_ignored() -> None:
    """A sync finished after a newer one began does nothing (the newer one wins)."""
    conn = Connection(never_sends, hall="h")
    old = conn.begin_sync()
    new = conn.begin_sync()
    assert not conn.finish_sync(old, [(ALWAYS, "old")], 1)
    assert conn.finish_sync(new, [(ALWAYS, "new")], 2)
    assert conn._queue.get_nowait() == "new"


def test_replay_may_exceed_the_live_bound_once() -> None:
    """A replay longer than the queue bound is queued whole instead of closing the client."""
    conn = Connection(never_sends, hall="h", queue_size=4)
    gen = conn.begin_sync()
    assert conn.finish_sync(gen, [(s, f"e{s}") for s in range(1, 11)], 10)
    assert conn.close_code is None and conn._queue.qsize() == 10
