"""Load processes of the live bench: websocket screens and HTTP windows (bench/live_bench.py).

Each runs in its own process (``multiprocessing``, spawn) and obeys commands sent over a Pipe:

screens  ``connect`` (open N screens: connect, hello with a display token, wait for the first
         snapshot), ``reset`` (forget recorded events), ``drop`` (abort the sockets of the first
         N screens at once; they reconnect after a jitter ≤ 1 s with their epoch/last_seq),
         ``storm_status``, ``collect`` (recorded ``ticket.called`` receptions), ``stop``.
windows  ``call`` (call-next at a fixed total rate for a number of seconds, round-robin over
         idle windows), ``stop``.

Screens use the ``websockets`` asyncio client directly (no compression, no pings), not the
full LiveClient, so one process holds 1,000 of them. Every loop is bounded by a count or a
deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import resource
import time
import uuid
from array import array
from collections import Counter
from datetime import datetime
from multiprocessing.connection import Connection as Pipe
from typing import Any

import httpx
import uvloop
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import WebSocketException

MAX_RECONNECTS = 50  # per screen and run: a bound, not a policy
HANDSHAKES_IN_FLIGHT = 64


def raise_nofile() -> int:
    """Raise RLIMIT_NOFILE to the hard limit; returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def _ts(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


class Screen:
    """One display: keeps (epoch, last_seq), records every ticket.called it receives."""

    def __init__(self, fleet: Fleet, idx: int, url: str, token: str) -> None:
        self.fleet = fleet
        self.idx = idx
        self.url = url
        self.token = token
        self.epoch: str | None = None
        self.last_seq: int | None = None
        self.ws: ClientConnection | None = None
        self.synced = asyncio.Event()
        self.dropped_at: float | None = None  # set by ``drop``: reconnect with jitter
        self.resynced_at: float | None = None
        self.sync_kind = ""
        self.reconnects = 0

    async def run(self) -> None:
        while not self.fleet.stopping and self.reconnects <= MAX_RECONNECTS:
            with contextlib.suppress(OSError, WebSocketException, TimeoutError):
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
        async with self.fleet.handshakes:
            ws = await connect(
                self.url,
                compression=None,
                ping_interval=None,
                open_timeout=30,
                close_timeout=1,
                max_queue=None,
            )
        self.ws = ws
        hello: dict[str, Any] = {"type": "hello", "token": self.token}
        if self.epoch is not None and self.last_seq is not None:
            hello |= {"epoch": self.epoch, "last_seq": self.last_seq}
        await ws.send(json.dumps(hello))
        first = True
        rec = self.fleet.record
        async for text in ws:
            now = time.time()
            frame = json.loads(text)
            kind = frame.get("type")
            if kind == "event":
                seq = frame["seq"]
                if self.last_seq is not None and seq != self.last_seq + 1:
                    if seq > self.last_seq + 1:
                        self.fleet.gaps += 1
                    else:
                        self.fleet.dups += 1
                self.last_seq = seq
                if frame["name"] == "ticket.called":
                    rec(self.idx, frame["data"]["number"], _ts(frame["at"]), now)
            elif kind in ("snapshot", "heartbeat"):
                if kind == "snapshot" or first or self.last_seq is None:
                    self.epoch = frame["epoch"]
                    self.last_seq = frame["seq"]
                if first or kind == "snapshot":
                    if self.dropped_at is not None and self.resynced_at is None:
                        self.resynced_at = now
                        self.sync_kind = kind
                    first = False
                    self.synced.set()
            elif kind == "error":
                self.fleet.errors[frame.get("code", "?")] += 1


class Fleet:
    """All screens of one process and what they recorded."""

    def __init__(self) -> None:
        self.screens: list[Screen] = []
        self.tasks: list[asyncio.Task[None]] = []
        self.stopping = False
        self.handshakes = asyncio.Semaphore(HANDSHAKES_IN_FLIGHT)
        self.unexpected = 0
        self.gaps = 0
        self.dups = 0
        self.errors: Counter[str] = Counter()
        self.numbers: dict[str, int] = {}
        self.reset()

    def reset(self) -> None:
        self.r_idx = array("i")
        self.r_num = array("i")
        self.r_at = array("d")
        self.r_recv = array("d")

    def record(self, idx: int, number: str, at: float, recv: float) -> None:
        n = self.numbers.setdefault(number, len(self.numbers))
        self.r_idx.append(idx)
        self.r_num.append(n)
        self.r_at.append(at)
        self.r_recv.append(recv)

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
            if s.ws is not None and s.ws.transport is not None:
                s.ws.transport.abort()  # abrupt: no close frame, as a pulled cable or crash
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
            "errors": dict(self.errors),
        }
        self.reset()
        return out

    async def close(self) -> None:
        """Abort every screen's socket and forget them; the process stays."""
        self.stopping = True
        for s in self.screens:
            if s.ws is not None and s.ws.transport is not None:
                s.ws.transport.abort()
        for t in self.tasks:
            t.cancel()
        if self.tasks:
            await asyncio.wait(self.tasks, timeout=10)
        self.screens, self.tasks = [], []
        self.stopping = False
        self.unexpected = self.gaps = self.dups = 0
        self.errors.clear()
        self.numbers.clear()
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
