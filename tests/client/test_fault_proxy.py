"""The fault proxy's modes, seen by a plain TCP client of an echo server."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import pytest

from tests.support.fault_proxy import FaultProxy

Stream = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


@pytest.fixture
async def proxy() -> AsyncIterator[FaultProxy]:
    """A fault proxy in front of an echo server, both on loopback."""
    echo = await asyncio.start_server(_echo, "127.0.0.1", 0)
    fault = FaultProxy("127.0.0.1", echo.sockets[0].getsockname()[1])
    await fault.start()
    try:
        yield fault
    finally:
        await fault.stop()
        echo.close()
        await echo.wait_closed()


@contextlib.asynccontextmanager
async def dial(port: int) -> AsyncIterator[Stream]:
    """A TCP connection to 127.0.0.1:``port``, closed (quietly, even if reset) on exit."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        yield reader, writer
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def roundtrip(stream: Stream, payload: bytes = b"ping", timeout: float = 2.0) -> bytes:
    """Send ``payload`` and read the echo."""
    reader, writer = stream
    writer.write(payload)
    await writer.drain()
    async with asyncio.timeout(timeout):
        return await reader.readexactly(len(payload))


async def test_pass_through_echoes(proxy: FaultProxy) -> None:
    """Without faults the proxy forwards both ways, on a loopback port of its own."""
    async with dial(proxy.port) as stream:
        assert await roundtrip(stream, b"hello") == b"hello"
    assert proxy.accepted == 1 and proxy.port > 0


async def test_delay_holds_every_chunk(proxy: FaultProxy) -> None:
    """delay(d) adds d to each direction, so a round trip takes at least 2d; restore ends it."""
    async with dial(proxy.port) as stream:
        proxy.delay(0.15)
        started = time.monotonic()
        assert await roundtrip(stream) == b"ping"
        assert time.monotonic() - started >= 0.3
        await proxy.restore()
        started = time.monotonic()
        await roundtrip(stream)
        assert time.monotonic() - started < 0.1


async def test_drop_discards_bytes_but_keeps_the_socket(proxy: FaultProxy) -> None:
    """drop() silently discards bytes; the connection stays open and works after restore."""
    async with dial(proxy.port) as stream:
        proxy.drop()
        with pytest.raises(TimeoutError):
            await roundtrip(stream, b"lost", timeout=0.3)
        assert not stream[0].at_eof()
        await proxy.restore()
        assert await roundtrip(stream, b"back") == b"back"


async def test_reset_aborts_current_connections_with_rst(proxy: FaultProxy) -> None:
    """reset() kills current connections with an RST; new connections pass again."""
    async with dial(proxy.port) as stream:
        await roundtrip(stream)
        proxy.reset()
        with pytest.raises((ConnectionResetError, asyncio.IncompleteReadError)):
            await roundtrip(stream)
    async with dial(proxy.port) as stream:
        assert await roundtrip(stream) == b"ping"


async def test_blackhole_accepts_but_never_answers(proxy: FaultProxy) -> None:
    """blackhole() holds new connections silent while connections already open carry on."""
    async with dial(proxy.port) as before:
        proxy.blackhole()
        async with dial(proxy.port) as held:
            with pytest.raises(TimeoutError):
                await roundtrip(held, timeout=0.3)
        assert await roundtrip(before) == b"ping"
    await proxy.restore()
    async with dial(proxy.port) as stream:
        assert await roundtrip(stream) == b"ping"


async def test_refuse_rejects_new_connections_until_restore(proxy: FaultProxy) -> None:
    """refuse() closes the listener (connects are refused); restore() listens on the same port."""
    port = proxy.port
    async with dial(port) as open_before:
        await proxy.refuse()
        with pytest.raises(ConnectionRefusedError):
            await asyncio.open_connection("127.0.0.1", port)
        assert await roundtrip(open_before) == b"ping"
    await proxy.restore()
    assert proxy.port == port
    async with dial(port) as stream:
        assert await roundtrip(stream) == b"ping"


async def test_stop_closes_everything(proxy: FaultProxy) -> None:
    """stop() ends open connections and the listener; the client sees EOF or a reset."""
    async with dial(proxy.port) as stream:
        await roundtrip(stream)
        await proxy.stop()
        with pytest.raises((ConnectionResetError, asyncio.IncompleteReadError)):
            await roundtrip(stream)
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection("127.0.0.1", proxy.port)
