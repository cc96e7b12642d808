"""Frames encoded once for every receiver, and a socket's direct write path under uvicorn.

A hall event goes to thousands of screens. Sending it through Starlette and uvicorn costs every
connection a task wake-up, three ASGI layers and its own websocket framing of the same text;
here the frame's wire bytes (an unmasked, unfragmented text frame, RFC 6455 §5.2) are built
once and written to each socket's transport directly.

The direct path exists only under uvicorn's sans-I/O websockets protocol (``hallq serve``'s
``--ws websockets-sansio``) without per-message deflate; anywhere else ``wire_of`` answers
None and the connection sends through the ASGI ``send`` as usual.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from functools import cached_property
from typing import Any, Protocol

TEXT_FIN = 0x81  # FIN bit + opcode 1 (text)


class WireText(str):
    """A frame's JSON text that also carries its websocket frame bytes, built on first use.

    A ``str`` subclass so every place that takes a frame's text keeps working; the hub makes
    one per event and all connections share it (and its bytes).
    """

    @cached_property
    def wire(self) -> bytes:
        return encode_text_frame(self)


def encode_text_frame(text: str) -> bytes:
    """``text`` as one server-to-client websocket text frame (FIN, no mask, no extension)."""
    payload = text.encode()
    n = len(payload)
    if n < 126:
        header = struct.pack("!BB", TEXT_FIN, n)
    elif n < 1 << 16:
        header = struct.pack("!BBH", TEXT_FIN, 126, n)
    else:
        header = struct.pack("!BBQ", TEXT_FIN, 127, n)
    return header + payload


def as_wire_text(text: str) -> WireText:
    return text if isinstance(text, WireText) else WireText(text)


class Wire(Protocol):
    """A socket that takes whole frames without going through the ASGI ``send``."""

    def writable(self) -> bool:
        """True when a frame written now goes out (open, not closing, not paused)."""
        ...

    def open(self) -> bool:
        """False once the socket is closing or closed: nothing may be written any more."""
        ...

    def write(self, frame: bytes) -> None:
        """Write one whole frame (only when ``writable()``)."""
        ...

    async def wait_writable(self) -> None:
        """Return when the transport's buffer drained below its low-water mark (or it closed)."""
        ...


class UvicornWire:
    """The transport of a uvicorn ``WebSocketsSansIOProtocol``, written to directly.

    Safe beside uvicorn's own writes (handshake, pings, close): each is one whole frame written
    synchronously on the same loop, so frames never interleave. Writing stops as soon as
    uvicorn sent or received a close, or the connection is lost.
    """

    __slots__ = ("_protocol", "_transport")

    def __init__(self, protocol: Any) -> None:
        self._protocol = protocol
        self._transport = protocol.transport

    def open(self) -> bool:
        p = self._protocol
        return not (p.close_sent or p.disconnected or self._transport.is_closing()) and (
            p.conn.close_rcvd is None
        )

    def writable(self) -> bool:
        return self.open() and self._protocol.writable.is_set()

    def write(self, frame: bytes) -> None:
        self._transport.write(frame)

    async def wait_writable(self) -> None:
        await self._protocol.writable.wait()  # uvicorn sets it on resume and on connection loss


def wire_of(receive: Callable[..., Any]) -> UvicornWire | None:
    """The direct write path of the connection whose ASGI ``receive`` this is, if it has one.

    Starlette hands the server's ``receive`` through unchanged (its ``send`` is wrapped), so a
    bound ``receive`` of uvicorn's sans-I/O protocol leads to its transport. Per-message
    deflate would need every frame compressed per connection: then there is no direct path.
    """
    try:
        from uvicorn.protocols.websockets.websockets_sansio_impl import (
            WebSocketsSansIOProtocol,
        )
    except ImportError:  # pragma: no cover - uvicorn is a dependency of hallq
        return None
    protocol = getattr(receive, "__self__", None)
    if not isinstance(protocol, WebSocketsSansIOProtocol) or protocol.conn.extensions:
        return None
    return UvicornWire(protocol)
