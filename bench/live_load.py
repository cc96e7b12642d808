"""Load processes of the live bench: websocket screens and HTTP windows (bench/live_bench.py).

Each runs in its own process (``multiprocessing``, spawn) and obeys commands sent over a Pipe:

screens  ``connect`` (open N screens: connect, hello with a display token, wait for the first
         snapshot), ``reset`` (forget recorded events), ``drop`` (abort the sockets of the first
         N screens at once; they reconnect after a jitter ≤ 1 s with their epoch/last_seq),
         ``storm_status``, ``received`` (how many receptions so far), ``collect`` (recorded
         ``ticket.called`` receptions), ``stop``.
windows  ``call`` (call-next at a fixed total rate for a number of seconds, round-robin over
         idle windows), ``stop``.

Screens are a minimal RFC 6455 client on ``asyncio.Protocol`` under uvloop, not a websocket
library: at 1,000+ screens on 2 cores a library's per-frame machinery (stream reader, frame
objects, a queue and a task wake-up per message) plus ``json.loads`` per frame made the
screens, not the server, the bottleneck. Here a frame costs one ``data_received`` call: the
header is read in place and the payload looked up in a per-process cache of parsed frames
(every screen gets the same bytes for an event, so each distinct frame is decoded once per
process). Screens answer pings (uvicorn pings every 20 s) and close frames, and send hello;
those few client frames are masked as the RFC requires. Every loop is bounded by a count or a
deadline.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import os
import random
import resource
import struct
import time
import uuid
from array import array
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from multiprocessing.connection import Connection as Pipe
from typing import Any, cast
from urllib.parse import urlsplit

import httpx
import uvloop

MAX_RECONNECTS = 50  # per screen and run: a bound, not a policy
HANDSHAKES_IN_FLIGHT = 64
OPEN_TIMEOUT_S = 30.0  # TCP connect + upgrade
MAX_HEAD = 16 * 1024  # the server's handshake answer
PARSED_MAX = 4096  # distinct frames kept decoded per process (cleared when full)
WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
FIN = 0x80
OP_TEXT, OP_CLOSE, OP_PING, OP_PONG = 0x1, 0x8, 0x9, 0xA
TEXT_FRAME = FIN | OP_TEXT


def raise_nofile() -> int:
    """Raise RLIMIT_NOFILE to the hard limit; returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def _ts(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


class HandshakeError(Exception):
    """The server did not switch protocols (refused, or not a websocket answer)."""


def client_frame(op: int, payload: bytes) -> bytes:
    """A masked client → server frame (RFC 6455 §5.3); the screens' payloads are < 64 KiB."""
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", FIN | op, 0x80 | n)
    else:
        head = struct.pack("!BBH", FIN | op, 0x80 | 126, n)
    mask = os.urandom(4)
    key = int.from_bytes((mask * (n // 4 + 1))[:n])
    return head + mask + (int.from_bytes(payload) ^ key).to_bytes(n)


def upgrade_request(url: str) -> tuple[str, int, bytes, bytes]:
    """Host, port, the HTTP upgrade request for ``ws://`` ``url`` and the accept value due."""
    parts = urlsplit(url)
    key = base64.b64encode(os.urandom(16))
    accept = base64.b64encode(hashlib.sha1(key + WS_GUID).digest())
    request = (
        f"GET {parts.path or '/'} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key.decode()}\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n"
    ).encode()
    return parts.hostname or "127.0.0.1", parts.port or 80, request, accept


@dataclass(frozen=True, slots=True)
class Parsed:
    """What a screen needs of one server frame."""

    kind: str  # event, snapshot, heartbeat, error or other
    seq: int = -1
    epoch: str = ""
    called: int = -1  # ticket.called: the number's index in Fleet.numbers; else -1
    at: float = 0.0  # ticket.called: the event's ``at`` as a timestamp
    code: str = ""  # error frames


class ScreenLink(asyncio.Protocol):
    """One connection of a screen: the upgrade, then every frame handled in ``data_received``.

    No task, queue or frame object per message: the header is read in place, control frames
    are answered at once, text frames go to ``_text``.
    """

    def __init__(self, screen: Screen, request: bytes, accept: bytes) -> None:
        self.screen = screen
        self.fleet = screen.fleet
        self.request = request
        self.accept = accept
        loop = asyncio.get_running_loop()
        self.opened: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()
        self.transport: asyncio.Transport | None = None
        self.upgraded = False
        self.first = True  # no snapshot or heartbeat yet on this connection
        self.buf = b""  # an incomplete frame (or handshake answer) from the last read

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.transport.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(HandshakeError("connection lost during the upgrade"))
        if not self.closed.done():
            self.closed.set_result(None)

    def abort(self) -> bool:
        """Drop the socket without a close frame (a pulled cable); False if already closing."""
        t = self.transport
        if t is None or t.is_closing():
            return False
        t.abort()
        return True

    def send(self, op: int, payload: bytes) -> None:
        t = self.transport
        if t is not None and not t.is_closing():
            t.write(client_frame(op, payload))

    def data_received(self, data: bytes) -> None:
        now = time.time()
        if self.buf:
            data, self.buf = self.buf + data, b""
        if not self.upgraded:
            data = self._upgrade(data)
        n = len(data)
        pos = 0
        while n - pos >= 2:
            b0, size = data[pos], data[pos + 1]
            head = pos + 2
            if size >= 126:
                if size & 0x80:
                    self._fail("masked server frame")
                    return
                wide = 2 if size == 126 else 8
                if n - head < wide:
                    break
                size = int.from_bytes(data[head : head + wide])
                head += wide
            end = head + size
            if end > n:
                break
            if b0 == TEXT_FRAME:
                self._text(data[head:end], now)
            else:
                self._control(b0, data[head:end])
            pos = end
        if pos < n:
            self.buf = data[pos:]

    def _upgrade(self, data: bytes) -> bytes:
        """Check the 101 answer; returns what follows it (frames already sent), else b""."""
        end = data.find(b"\r\n\r\n")
        if end < 0:
            if len(data) > MAX_HEAD:
                self._fail("handshake answer too long")
            else:
                self.buf = data
            return b""
        status, *lines = data[:end].decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines)}
        if not status.startswith("HTTP/1.1 101 "):
            self._fail(status)
            return b""
        if headers.get("sec-websocket-accept", "").encode() != self.accept:
            self._fail("wrong Sec-WebSocket-Accept")
            return b""
        self.upgraded = True
        self.opened.set_result(None)
        return data[end + 4 :]

    def _fail(self, reason: str) -> None:
        if not self.opened.done():
            self.opened.set_exception(HandshakeError(reason))
        else:
            self.fleet.errors[reason] += 1
        self.abort()

    def _control(self, b0: int, payload: bytes) -> None:
        op = b0 & 0x0F
        if op == OP_PING:
            self.send(OP_PONG, payload)
        elif op == OP_CLOSE:
            code = int.from_bytes(payload[:2]) if len(payload) >= 2 else 1005
            self.fleet.errors[f"closed {code}"] += 1  # the server never closes a healthy screen
            self.send(OP_CLOSE, payload[:2])  # echo the code: the closing handshake
            if self.transport is not None:
                self.transport.close()
        elif op != OP_PONG:
            # Binary or fragmented: the server sends neither. Counted, never guessed at.
            self.fleet.errors[f"frame 0x{b0:02x}"] += 1

    def _text(self, payload: bytes, now: float) -> None:
        fleet = self.fleet
        p = fleet.parsed.get(payload) or fleet.parse(payload)
        s = self.screen
        kind = p.kind
        if kind == "event":
            last = s.last_seq
            if last is not None and p.seq != last + 1:
                if p.seq > last + 1:
                    fleet.gaps += 1
                else:
                    fleet.dups += 1
            s.last_seq = p.seq
            if p.called >= 0:
                fleet.record(s.idx, p.called, p.at, now)
        elif kind == "snapshot" or kind == "heartbeat":
            if kind == "snapshot" or self.first or s.last_seq is None:
                s.epoch = p.epoch
                s.last_seq = p.seq
            if kind == "snapshot" and not self.first:
                fleet.snapshots += 1
            if self.first or kind == "snapshot":
                if s.dropped_at is not None and s.resynced_at is None:
                    s.resynced_at = now
                    s.sync_kind = kind
                self.first = False
                s.synced.set()
        elif kind == "error":
            fleet.errors[p.code] += 1


class Screen:
    """One display: keeps (epoch, last_seq), records every ticket.called it receives."""

    def __init__(self, fleet: Fleet, idx: int, url: str, token: str) -> None:
        self.fleet = fleet
        self.idx = idx
        self.url = url
        self.token = token
        self.epoch: str | None = None
        self.last_seq: int | None = None
        self.link: ScreenLink | None = None
        self.synced = asyncio.Event()
        self.dropped_at: float | None = None  # set by ``drop``: reconnect with jitter
        self.resynced_at: float | None = None
        self.sync_kind = ""
        self.reconnects = 0

    async def run(self) -> None:
        while not self.fleet.stopping and self.reconnects <= MAX_RECONNECTS:
            with contextlib.suppress(OSError, HandshakeError, TimeoutError):
                await self._session()
            if self.fleet.stopping:
                return
            self.reconnects += 1
            if self.dropped_at is None:
                self.fleet.unexpected += 1
                await asyncio.sleep(0.5 + random.random() * 0.5)
            else:
                await asyncio.sleep(random.random())  # the storm's jitter, ≤ 1 s

    async def _session(self) -> None:
        host, port, request, accept = upgrade_request(self.url)
        link = self.link = ScreenLink(self, request, accept)
        try:
            async with self.fleet.handshakes, asyncio.timeout(OPEN_TIMEOUT_S):
                await asyncio.get_running_loop().create_connection(lambda: link, host, port)
                await link.opened
            hello: dict[str, Any] = {"type": "hello", "token": self.token}
            if self.epoch is not None and self.last_seq is not None:
                hello |= {"epoch": self.epoch, "last_seq": self.last_seq}
            link.send(OP_TEXT, json.dumps(hello).encode())
            await link.closed
        finally:
            link.abort()  # cancelled or timed out: never leave the socket behind


class Fleet:
    """All screens of one process, what they recorded, and the frames decoded so far."""

    def __init__(self) -> None:
        self.screens: list[Screen] = []
        self.tasks: list[asyncio.Task[None]] = []
        self.stopping = False
        self.handshakes = asyncio.Semaphore(HANDSHAKES_IN_FLIGHT)
        self.unexpected = 0
        self.gaps = 0
        self.dups = 0
        self.snapshots = 0  # snapshots after a connection's first: events replaced, not received
        self.errors: Counter[str] = Counter()
        self.numbers: dict[str, int] = {}
        self.parsed: dict[bytes, Parsed] = {}
        self.reset()

    def reset(self) -> None:
        self.r_idx = array("i")
        self.r_num = array("i")
        self.r_at = array("d")
        self.r_recv = array("d")

    def record(self, idx: int, num: int, at: float, recv: float) -> None:
        self.r_idx.append(idx)
        self.r_num.append(num)
        self.r_at.append(at)
        self.r_recv.append(recv)

    def parse(self, payload: bytes) -> Parsed:
        """Decode a frame no screen of this process has had yet (every screen gets the same
        bytes for an event: a pure function of them, so decoding once per process is exact)."""
        if len(self.parsed) >= PARSED_MAX:
            self.parsed.clear()
        parsed = self.parsed[payload] = self._decode(json.loads(payload))
        return parsed

    def _decode(self, frame: dict[str, Any]) -> Parsed:
        kind = frame.get("type")
        if kind == "event":
            if frame["name"] != "ticket.called":
                return Parsed("event", frame["seq"])
            num = self.numbers.setdefault(frame["data"]["number"], len(self.numbers))
            return Parsed("event", frame["seq"], called=num, at=_ts(frame["at"]))
        if kind == "snapshot" or kind == "heartbeat":
            return Parsed(kind, frame["seq"], frame["epoch"])
        if kind == "error":
            return Parsed("error", code=str(frame.get("code", "?")))
        return Parsed("other")

    async def connect(self, urls: list[str], tokens: list[str], n: int) -> dict[str, Any]:
        t0 = time.perf_counter()
        start = len(self.screens)
        new = []
        for i in range(start, start + n):
            s = Screen(self, i, urls[i % len(urls)], tokens[i % len(tokens)])
            self.screens.append(s)
            new.append(s)
            self.tasks.append(asyncio.create_task(s.run()))
        deadline = time.monotonic() + 60 + n * 0.05
        for s in new:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(s.synced.wait(), max(0.01, deadline - time.monotonic()))
        ok = sum(1 for s in new if s.synced.is_set())
        return {"connected": ok, "seconds": time.perf_counter() - t0}

    def drop(self, n: int) -> dict[str, Any]:
        now = time.time()
        dropped = 0
        for s in self.screens[:n]:
            s.dropped_at, s.resynced_at, s.sync_kind = now, None, ""
            if s.link is not None and s.link.abort():  # no close frame: a crash
                dropped += 1
        return {"dropped": dropped, "at": now}

    def storm_status(self, n: int) -> dict[str, Any]:
        group = self.screens[:n]
        back = [s.resynced_at - s.dropped_at for s in group if s.resynced_at and s.dropped_at]
        kinds = Counter(s.sync_kind for s in group if s.resynced_at)
        return {"back": len(back), "of": len(group), "max_s": max(back, default=0.0), **kinds}

    def collect(self) -> dict[str, Any]:
        out = {
            "idx": self.r_idx.tobytes(),
            "num": self.r_num.tobytes(),
            "at": self.r_at.tobytes(),
            "recv": self.r_recv.tobytes(),
            "numbers": {v: k for k, v in self.numbers.items()},
            "open": sum(1 for s in self.screens if s.synced.is_set()),
            "unexpected": self.unexpected,
            "gaps": self.gaps,
            "dups": self.dups,
            "snapshots": self.snapshots,
            "errors": dict(self.errors),
        }
        self.reset()
        return out

    async def close(self) -> None:
        """Abort every screen's socket and forget them; the process stays."""
        self.stopping = True
        for s in self.screens:
            if s.link is not None:
                s.link.abort()
        for t in self.tasks:
            t.cancel()
        if self.tasks:
            await asyncio.wait(self.tasks, timeout=10)
        self.screens, self.tasks = [], []
        self.stopping = False
        self.unexpected = self.gaps = self.dups = self.snapshots = 0
        self.errors.clear()
        self.numbers.clear()
        self.parsed.clear()
        self.reset()


async def _screens(pipe: Pipe) -> None:
    loop = asyncio.get_running_loop()
    fleet = Fleet()
    for _ in range(10_000):  # bounded: the orchestrator sends a few dozen commands
        cmd = await loop.run_in_executor(None, pipe.recv)
        op = cmd["op"]
        if op == "connect":
            reply: Any = await fleet.connect(cmd["urls"], cmd["tokens"], cmd["n"])
        elif op == "reset":
            fleet.reset()
            reply = {}
        elif op == "drop":
            reply = fleet.drop(cmd["n"])
        elif op == "storm_status":
            reply = fleet.storm_status(cmd["n"])
        elif op == "received":
            reply = {"n": len(fleet.r_idx)}
        elif op == "collect":
            reply = fleet.collect()
        elif op == "close":
            t = time.perf_counter()
            await fleet.close()
            reply = {"seconds": time.perf_counter() - t}
        elif op == "stop":
            await fleet.close()
            pipe.send({})
            return
        else:
            reply = {"error": f"unknown op {op}"}
        pipe.send(reply)


def screens_main(pipe: Pipe) -> None:
    """Entry point of a screens process."""
    raise_nofile()
    uvloop.run(_screens(pipe))


# --- windows ----------------------------------------------------------------------------------


async def _call(cmd: dict[str, Any]) -> dict[str, Any]:
    """Call at ``rate``/s in total for ``seconds``; one keep-alive connection per window.

    Window i talks to server ``urls[i % len(urls)]`` (windows spread over the processes).
    """
    windows: dict[str, str | None] = cmd["windows"]  # window -> token (None: bare app)
    urls: list[str] = cmd["urls"]
    clients = {
        w: httpx.AsyncClient(
            base_url=urls[i % len(urls)],
            headers={"Authorization": f"Bearer {t}"} if t else {},
            timeout=httpx.Timeout(10.0),
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
        )
        for i, (w, t) in enumerate(windows.items())
    }
    sent: dict[str, tuple[float, float]] = {}  # number -> (send, response) wall clock
    lat: list[float] = []
    errors: Counter[str] = Counter()
    idle = list(windows)
    tasks: set[asyncio.Task[None]] = set()

    async def one(w: str) -> None:
        started = time.time()
        try:
            r = await clients[w].post(
                cmd["path"].format(window=w),
                json={"finish_current": True},
                headers={"Idempotency-Key": uuid.uuid4().hex},
            )
            status = str(r.status_code)
        except httpx.HTTPError as exc:
            status = type(exc).__name__
        done = time.time()
        idle.append(w)
        if status != "200":
            errors[status] += 1
            return
        ticket = r.json().get("ticket")
        if ticket is None:
            errors["nobody_waiting"] += 1
            return
        sent[ticket["number"]] = (started, done)
        lat.append(done - started)

    interval = 1.0 / cmd["rate"]
    t0 = time.perf_counter()
    n_total = int(cmd["seconds"] * cmd["rate"])
    for i in range(n_total):
        delay = t0 + i * interval - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        if not idle:
            errors["skipped_all_windows_busy"] += 1
            continue
        task = asyncio.create_task(one(idle.pop(0)))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.wait(tasks, timeout=15)
    for c in clients.values():
        await c.aclose()
    return {
        "sent": sent,
        "lat": lat,
        "errors": dict(errors),
        "elapsed": time.perf_counter() - t0,
    }


def windows_main(pipe: Pipe) -> None:
    """Entry point of the windows (caller) process."""
    raise_nofile()
    for _ in range(1000):
        cmd = pipe.recv()
        if cmd["op"] == "stop":
            pipe.send({})
            return
        pipe.send(uvloop.run(_call(cmd)))
