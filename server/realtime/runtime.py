"""The real-time layer of one process: broadcast, hub and relay, started and stopped together."""

from __future__ import annotations

from typing import Any

from server.realtime.broadcast import Broadcast, create_broadcast
from server.realtime.hub import Hub, SnapshotReader
from server.realtime.options import RealtimeOptions
from server.realtime.relay import Relay
from server.realtime.tokens import TokenLookup
from server.storage.db import Database


class Realtime:
    """Builds the broadcast from its URL, the hub and the relay; the lifespan owns it."""

    def __init__(
        self,
        db: Database,
        broadcast_url: str,
        read_snapshot: SnapshotReader,
        options: RealtimeOptions | None = None,
        *,
        broadcast: Broadcast | None = None,
    ) -> None:
        self.options = options or RealtimeOptions()
        self.broadcast = broadcast or create_broadcast(broadcast_url)
        self.hub = Hub(db, self.broadcast, read_snapshot, self.options)
        self.relay = Relay(db, self.broadcast, self.hub, self.options)
        # How hellos' tokens become actors: set by the web layer, which knows the services.
        self.tokens: TokenLookup[Any] | None = None

    async def start(self) -> None:
        """Connect the broadcast (never fails on a Redis outage), start the hub and relay."""
        await self.broadcast.connect()
        await self.hub.start()
        self.relay.start()

    async def stop(self) -> None:
        """Stop in reverse order: relay (marks what it published), hub, broadcast."""
        await self.relay.stop()
        await self.hub.stop()
        await self.broadcast.disconnect()
