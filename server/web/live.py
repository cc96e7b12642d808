"""Builds the real-time layer for ``create_app``: snapshot reader, token look-up, publish hook."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from server.domain.errors import Unauthorized
from server.realtime.broadcast import Broadcast
from server.realtime.options import RealtimeOptions
from server.realtime.runtime import Realtime
from server.realtime.tokens import TokenLookup
from server.services import auth
from server.services.actors import Actor
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
    rt.tokens = hello_tokens(st)
    tokens = rt.tokens
    rt.hub.on_revoke.append(lambda device: tokens.forget(lambda actor: actor.id == device))

    async def publish_after_commit(events: list[Published]) -> None:
        await rt.relay.publish(events)
        if publish is not None:
            await publish(events)

    st.commands.publish = publish_after_commit
    st.realtime = rt
    return rt


def hello_tokens(st: AppState) -> TokenLookup[Actor]:
    """Hello tokens checked many per read; devices' kept briefly (staff sessions expire)."""

    async def fetch(batch: dict[str, str]) -> dict[str, Actor | Exception]:
        now = st.clock.now()

        async def check_all(conn: AsyncConnection) -> dict[str, Actor | Exception]:
            found: dict[str, Actor | Exception] = {}
            for digest, token in batch.items():
                try:
                    found[digest] = await auth.authenticate(conn, token, now)
                except Unauthorized as exc:
                    found[digest] = exc
            return found

        result: dict[str, Actor | Exception] = await st.commands.read(check_all)
        return result

    return TokenLookup(fetch, cacheable=lambda actor: actor.kind == "device")
