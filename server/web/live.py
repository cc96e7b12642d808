"""Builds the real-time layer for ``create_app``: snapshot reader, relay as publish hook."""

from __future__ import annotations

from typing import Any

from server.realtime.broadcast import Broadcast
from server.realtime.options import RealtimeOptions
from server.realtime.runtime import Realtime
from server.services.commands import Publisher
from server.services.snapshot import snapshot
from server.services.unit import Published
from server.web.state import AppState


def build_realtime(
    st: AppState,
    broadcast_url: str,
    *,
    options: RealtimeOptions | None = None,
    broadcast: Broadcast | None = None,
    publish: Publisher | None = None,
) -> Realtime:
    """The process's broadcast, hub and relay; commands publish through the relay after commit.

    ``publish`` (tests, instrumentation) is called after the relay with the same events.
    """

    async def read_snapshot(hall_id: str) -> dict[str, Any]:
        hall = st.config.hall(hall_id)
        now = st.clock.now()
        state: dict[str, Any] = await st.commands.read(
            lambda conn: snapshot(conn, hall, now), snapshot=True
        )
        return state

    rt = Realtime(st.db, broadcast_url, read_snapshot, options, broadcast=broadcast)

    async def publish_after_commit(events: list[Published]) -> None:
        await rt.relay.publish(events)
        if publish is not None:
            await publish(events)

    st.commands.publish = publish_after_commit
    st.realtime = rt
    return rt
