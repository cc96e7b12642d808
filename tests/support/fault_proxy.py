"""A loopback TCP proxy whose faults tests switch at run time: delay, drop, reset, black-hole.

::

    proxy = FaultProxy("127.0.0.1", server_port)
    await proxy.start()            # listens on 127.0.0.1:proxy.port, forwards both ways
    proxy.delay(0.2)               # every chunk (both directions) waits 0.2 s
    proxy.drop()                   # bytes are read and discarded; sockets stay open
    proxy.reset()                  # current connections closed with RST (SO_LINGER 0)
    proxy.blackhole()              # new connections accepted, never connected upstream
    await proxy.refuse()           # listening socket closed: new connects are refused
    await proxy.restore()          # pass-through again, listening on the same port
    await proxy.stop()

Modes apply to connections open now and to later ones, except ``blackhole`` (new ones only)
and ``reset`` (a one-off on current ones). Every loop ends when its socket does, and ``stop``
aborts whatever is left, so a test never leaves a task or a socket behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from dataclasses import dataclass, field

CHUNK = 65536


@dataclass(eq=False)
class _Link:
    """One accepted connection and, unless black-holed, its upstream connection."""

    writers: list[asyncio.StreamWriter] = field(default_factory=list)

    def abort(self, *, rst: bool) -> None:
        for writer in self.writers:
            sock = writer.get_extra_info("socket")
            if rst and sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()


class FaultProxy:
    """A TCP proxy from 127.0.0.1:``port`` to ``target_host:target_port`` with faults."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self.accepted = 0  # connections accepted since start
        self._delay = 0.0
        self._dropping = False
        self._blackholing = False
        self._server: asyncio.Server | None = None
        self._links: set[_Link] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    # -- control ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen on 127.0.0.1 (a free port on the first start, the same port after)."""
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    def delay(self, seconds: float) -> None:
        """Hold every chunk ``seconds`` before forwarding it (order is kept)."""
        self._delay = seconds

    def drop(self) -> None:
        """Read and discard all bytes, both ways, keeping the sockets open (a silent link)."""
        self._dropping = True

    def blackhole(self) -> None:
        """Accept new connections but never connect them upstream nor answer."""
        self._blackholing = True

    def reset(self) -> None:
        """Abort every current connection with a TCP RST, both sides."""
        for link in list(self._links):
            link.abort(rst=True)

    async def refuse(self) -> None:
        """Close the listening socket: new connections are refused, open ones carry on."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def restore(self) -> None:
        """Pass-through again: no delay, no drop, no black-hole, listening if refused."""
        self._delay, self._dropping, self._blackholing = 0.0, False, False
        if self._server is None:
            await self.start()

    async def stop(self) -> None:
        """Stop listening, abort every connection and wait for every task to end."""
        await self.refuse()
        for link in list(self._links):
            link.abort(rst=False)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- forwarding ------------------------------------------------------------------------

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.accepted += 1
        link = _Link([writer])
        self._links.add(link)
        try:
            await self._serve(link, reader, writer)
        except (OSError, asyncio.IncompleteReadError):
            pass  # a reset or refused upstream ends the link; the test sees it at its end
        finally:
            link.abort(rst=False)
            self._links.discard(link)
            self._tasks.discard(task)
            for w in link.writers:
                with contextlib.suppress(OSError):
                    await w.wait_closed()

    async def _serve(
        self, link: _Link, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        if self._blackholing:
            await self._pump(reader, None)
            return
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        link.writers.append(up_writer)
        # Either direction ending (EOF, reset) ends the link.
        pumps = [
            asyncio.ensure_future(self._pump(reader, up_writer)),
            asyncio.ensure_future(self._pump(up_reader, writer)),
        ]
        try:
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pump in pumps:
                pump.cancel()
            await asyncio.gather(*pumps, return_exceptions=True)

    async def _pump(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter | None) -> None:
        # Ends at EOF or on a reset: bounded by the connection's life.
        while data := await src.read(CHUNK):
            if dst is None or self._dropping:
                continue
            if self._delay:
                await asyncio.sleep(self._delay)
            if self._dropping:  # drop() during the delay: discard this chunk too
                continue
            dst.write(data)
            await dst.drain()
