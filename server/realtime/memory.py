"""``memory://``: the broadcast of one process (the embedded default, ``hallq demo``)."""

from __future__ import annotations

from server.realtime.broadcast import Broadcast, BroadcastUnavailable


class MemoryBroadcast(Broadcast):
    """Delivers in-process, synchronously, into each subscriber's bounded queue."""

    _connected = False

    @property
    def healthy(self) -> bool:
        return self._connected

    async def connect(self) -> None:
        self._connected = True

    async def disconnect(self) -> None:
        self._connected = False

    async def publish(self, channel: str, data: str) -> None:
        if not self._connected:
            raise BroadcastUnavailable(
                "memory broadcast is not connected: call connect() first (the app lifespan does)"
            )
        self._dispatch(channel, data)

    async def _listen(self, channel: str) -> None:
        """Nothing upstream: ``publish`` dispatches in this process."""

    async def _unlisten(self, channel: str) -> None:
        """Nothing upstream."""
