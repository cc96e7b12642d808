"""R10, R12 and R13 against a real uvicorn process on PostgreSQL (TEST_DATABASE_URL).

R10 is table-driven: each hostile client gets its documented answer (server/web/ws.py,
docs/architecture.md "Close codes") within 1 s while a control screen keeps receiving events.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Origin

from server.client import LiveClient
from server.services import auth
from server.storage.db import Database
from server.storage.tables import audit, tickets
from tests.conftest import need_pg
from tests.realtime.procs import (
    HALL,
    ServerProcess,
    all_day_config,
    assert_clean,
    prepare,
    server_process,
)
from tests.realtime.test_resilience import Recorder


@dataclass(frozen=True)
class Case:
    """Frames a hostile client sends (after a valid hello unless ``first``) and the answer:
    a close code (int), an error frame code (str) or "snapshot"."""

    id: str
    frames: tuple[Any, ...]
    answer: int | str
    first: bool = False  # the frames replace the hello
    who: str = "guide"
    skip: int = 0  # answers to earlier frames of the case, before the one tested


BAD_UTF8 = ("utf8", b'{"type":"x","v":"\xff\xfe"}')  # sent as a *text* frame (text=True)

CASES = [
    # after hello: closes
    Case("binary", (b"\x00\x01",), 1003),
    Case("not-json", ("not json",), 1007),
    Case("bad-utf8-text-frame", (BAD_UTF8,), 1007),  # the websocket layer's own UTF-8 check
    Case("just-over-64k", ("x" * (64 * 1024 + 1),), 1009),
    Case("one-mib", ('{"type":"x","v":"' + "x" * 2**20 + '"}',), 1009),
    Case("huge-integer-5000-digits", ('{"type":"x","n":' + "9" * 5000 + "}",), 1007),
    Case("flood", ('{"type":"nope"}',) * 60, 1008, skip=60),  # errors until the close
    # after hello: error frames, the connection stays
    Case("nested-10000-arrays", ("[" * 10_000 + "]" * 10_000,), "too_deep"),
    Case("nested-10000-objects", ('{"a":' * 10_000 + "1" + "}" * 10_000,), "too_deep"),
    Case("nested-9", ('{"type":"x","a":' + "[" * 9 + "]" * 9 + "}",), "too_deep"),
    Case("unknown-type", ('{"type":"nope"}',), "unknown_type"),
    Case("oversize-type-string", (json.dumps({"type": "t" * 60_000}),), "unknown_type"),
    Case("array-not-object", ("[1,2]",), "invalid_message"),
    Case("empty-object", ("{}",), "invalid_message"),
    Case("type-is-number", ('{"type":5}',), "invalid_message"),
    Case("type-is-null", ('{"type":null}',), "invalid_message"),
    Case("nan-literal", ("NaN",), "invalid_message"),
    Case("infinity-type", ('{"type":Infinity}',), "invalid_message"),
    Case("neg-infinity-field", ('{"type":"nope","v":-Infinity}',), "unknown_type"),
    Case("big-but-legal-integer", ('{"type":"nope","n":' + "9" * 40 + "}",), "unknown_type"),
    Case("hello-twice", ('{"type":"hello","token":"again"}',), "already_authenticated"),
    Case(
        "print-ack-from-display",
        ('{"type":"print.ack","job":"1","status":"printed"}',),
        "forbidden",
        who="display",
    ),
    Case("device-status-from-guide", ('{"type":"device.status","printer":{}}',), "forbidden"),
    Case(
        "print-ack-no-job",
        ('{"type":"print.ack","status":"printed"}',),
        "invalid_message",
        who="kiosk",
    ),
    Case(
        "print-ack-bad-status",
        ('{"type":"print.ack","job":"1","status":"burnt"}',),
        "invalid_message",
        who="kiosk",
    ),
    Case(
        "print-ack-oversize-reason",
        (json.dumps({"type": "print.ack", "job": "1", "status": "failed", "reason": "r" * 300}),),
        "invalid_message",
        who="kiosk",
    ),
    Case(
        "device-status-wrong-types",
        ('{"type":"device.status","printer":{"online":"yes","paper":"ok","cover_open":0}}',),
        "invalid_message",
        who="kiosk",
    ),
    Case(
        "resync-twice-at-once", ('{"type":"resync"}', '{"type":"resync"}'), "rate_limited", skip=1
    ),
    # instead of hello
    Case("resync-before-hello", ('{"type":"resync"}',), 4401, first=True),
    Case(
        "command-before-hello",
        ('{"type":"print.ack","job":"1","status":"printed"}',),
        4401,
        first=True,
    ),
    Case("hello-token-number", ('{"type":"hello","token":5}',), 4401, first=True),
    Case("hello-token-null", ('{"type":"hello","token":null}',), 4401, first=True),
    Case("hello-token-empty", ('{"type":"hello","token":""}',), 4401, first=True),
    Case(
        "hello-token-oversize",
        (json.dumps({"type": "hello", "token": "t" * 600}),),
        4401,
        first=True,
    ),
    Case("hello-unknown-token", ('{"type":"hello","token":"hqd_nope"}',), 4401, first=True),
    Case("empty-object-first", ("{}",), 4401, first=True),
    Case("array-first", ("[]",), 4401, first=True),
    Case("too-deep-first", ("[" * 10_000 + "]" * 10_000,), 4401, first=True),
    Case("binary-first", (b"\x00",), 1003, first=True),
    Case("not-json-first", ("hello?",), 1007, first=True),
    Case("hello-hall-number", ({"hall": 5},), 4403, first=True),
    Case("hello-other-hall", ({"hall": "laocheng-1"},), 4403, first=True),
    # malformed positions only mean "send a snapshot"
    Case("hello-hall-null", ({"hall": None},), "snapshot", first=True),
    Case("hello-last-seq-string", ({"last_seq": "x", "epoch": "e"},), "snapshot", first=True),
    Case("hello-epoch-list", ({"last_seq": 0, "epoch": []},), "snapshot", first=True),
    Case("hello-last-seq-negative", ({"last_seq": -5},), "snapshot", first=True),
    Case("hello-last-seq-huge", ({"last_seq": 10**30},), "snapshot", first=True),
    Case("hello-last-seq-bool", ({"last_seq": True},), "snapshot", first=True),
    Case(
        "hello-last-seq-nan",
        ('{"type":"hello","token":"%TOKEN%","last_seq":NaN}',),
        "snapshot",
        first=True,
    ),
]


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    return all_day_config(tmp_path / "config.toml")


@pytest.fixture
async def server(config_path: Path, tmp_path: Path) -> AsyncIterator[ServerProcess]:
    pg = need_pg()
    tokens = await prepare(pg, config_path)
    async with server_process(config_path, pg, tokens, tmp_path / "server.log") as s:
        yield s


def _render(frame: Any, token: str) -> Any:
    if isinstance(frame, dict):  # a hello with these extra fields
        return json.dumps({"type": "hello", "token": token, **frame})
    if isinstance(frame, str):
        return frame.replace("%TOKEN%", token)
    return frame


async def _answer(ws: Any, timeout: float, skip: int = 0) -> int | str:
    """The answer after ``skip`` earlier ones: a close code, an error code, or "snapshot"."""
    try:
        async with asyncio.timeout(timeout):
            for _ in range(200):
                frame = json.loads(await ws.recv())
                if frame["type"] in ("error", "snapshot"):
                    if skip:
                        skip -= 1
                        continue
                    return str(frame["code"]) if frame["type"] == "error" else "snapshot"
    except ConnectionClosed as exc:
        return exc.rcvd.code if exc.rcvd is not None else -1
    raise AssertionError("no answer")


async def _run_case(server: ServerProcess, case: Case) -> tuple[int | str, float]:
    token = server.tokens[case.who]
    async with connect(server.ws_url, open_timeout=5, close_timeout=1, max_size=2**22) as ws:
        if not case.first:
            await ws.send(json.dumps({"type": "hello", "token": token}))
            assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "snapshot"
        for frame in case.frames:
            if isinstance(frame, tuple) and frame[0] == "utf8":
                await ws.send(frame[1], text=True)  # websockets sends the bytes as a text frame
            else:
                await ws.send(_render(frame, token))
        sent = time.monotonic()
        answer = await _answer(ws, 2.0, skip=case.skip)
        return answer, time.monotonic() - sent


async def test_r10_hostile_frames_get_their_documented_answers_beside_a_live_control(
    server: ServerProcess,
) -> None:
    """R10: each of ≥ 25 hostile clients gets its documented close or error within 1 s, the
    server logs no traceback, and a control screen keeps applying events throughout."""
    assert len({c.id for c in CASES}) == len(CASES) >= 25
    control = Recorder(LiveClient(server.ws_url, server.tokens["display"], HALL))
    async with control.client:
        control.start()
        async with asyncio.timeout(10):
            await control.client.wait_synced()
        stop = asyncio.Event()

        async def producer() -> int:
            issued = 0
            for _ in range(500):
                # At least five, however fast the table runs: the control must see events.
                if stop.is_set() and issued >= 5:
                    break
                assert (await server.issue()).status_code == 201
                issued += 1
                await asyncio.sleep(0.05)
            return issued

        task = asyncio.create_task(producer())
        results = {}
        table_started = time.monotonic()
        try:
            for case in CASES:
                results[case.id] = await _run_case(server, case)
        finally:
            stop.set()
            issued = await task
            table_ended = time.monotonic()
        wrong = {k: a for k, (a, _) in results.items() if a != _case(k).answer}
        slow = {k: round(t, 2) for k, (_, t) in results.items() if t > 1.0}
        assert wrong == {}, wrong
        assert slow == {}, slow
        expected = await server.comparable_snapshot()
        async with asyncio.timeout(3):
            await control.client.wait_for(lambda c: c.comparable_state() == expected)
        events = [f for f in control.frames() if f["type"] == "event"]
        assert len(events) >= issued >= 5
        during = [at for at, f in control.items if table_started <= at <= table_ended]
        assert len(during) >= 3, "the control screen stalled while the table ran"
        await asyncio.sleep(0.3)
        assert_clean(control.frames(), [server.log_text()])
        if control.task is not None:
            control.task.cancel()


def _case(case_id: str) -> Case:
    return next(c for c in CASES if c.id == case_id)


async def _counts(url: str) -> tuple[int, list[tuple[Any, ...]]]:
    db = Database(url)
    try:
        async with db.read() as conn:
            rejected = await conn.scalar(
                select(func.count()).select_from(audit).where(audit.c.action == "rejected")
            )
            rows = (await conn.execute(select(tickets).order_by(tickets.c.id))).all()
            return int(rejected or 0), [tuple(r) for r in rows]
    finally:
        await db.dispose()


async def test_r12_rogue_and_misauthorised_clients_are_rejected_audited_and_change_nothing(
    server: ServerProcess, config_path: Path
) -> None:
    """R12: unenrolled token, a display calling, terminal 3 acting on window 5, a revoked token
    at hello and a foreign Origin are all refused and audited with no state change; revoking a
    device closes its open socket within 1 s."""
    pg = need_pg()
    assert (await server.issue()).status_code == 201
    before_snapshot = await server.snapshot()
    audited, before_tickets = await _counts(pg)
    call5 = f"/halls/{HALL}/windows/5/call-next"
    stranger = {"Authorization": f"Bearer hqd_{secrets.token_urlsafe(24)}"}
    refusals = [
        (
            await server.http.post(f"/api/v1/halls/{HALL}/tickets", json={}, headers=stranger)
        ).status_code,
        (await server.post(call5, "display", {})).status_code,
        (await server.post(call5, "w3", {})).status_code,
    ]
    assert refusals == [401, 403, 403]
    with pytest.raises(InvalidStatus) as refused:
        async with connect(server.ws_url, origin=Origin("http://evil.example"), open_timeout=5):
            pass
    assert refused.value.response.status_code == 403
    # Two devices of the display role: one revoked before it connects, one while connected.
    db = Database(pg)
    try:
        async with db.write() as conn:
            now = datetime.now(UTC)
            early = await auth.add_device(
                conn, hall=HALL, role="display", name="rogue", window=None, zone=None, now=now
            )
            victim = await auth.add_device(
                conn, hall=HALL, role="display", name="lost", window=None, zone=None, now=now
            )
            await auth.revoke_device(conn, early.id, now)
        async with connect(server.ws_url, open_timeout=5) as ws:
            await ws.send(json.dumps({"type": "hello", "token": early.token}))
            assert await _answer(ws, 2.0) == 4401
        async with connect(server.ws_url, open_timeout=5) as ws:
            await ws.send(json.dumps({"type": "hello", "token": victim.token}))
            assert await _answer(ws, 2.0) == "snapshot"
            async with db.write() as conn:
                await auth.revoke_device(conn, victim.id, datetime.now(UTC))
            started = time.monotonic()
            code = await _answer_close(ws, 3.0)
            assert code == 4403 and time.monotonic() - started <= 1.0
    finally:
        await db.dispose()
    await asyncio.sleep(0.3)  # audit rows are written in their own small transactions
    audited_after, after_tickets = await _counts(pg)
    assert audited_after - audited >= 5  # 401, 403, 403, foreign Origin, revoked hello
    assert after_tickets == before_tickets
    assert await server.snapshot() == before_snapshot
    assert_clean([], [server.log_text()])


async def _answer_close(ws: Any, timeout: float) -> int | None:
    try:
        async with asyncio.timeout(timeout):
            for _ in range(100):
                await ws.recv()  # heartbeats until the close
    except ConnectionClosed as exc:
        return exc.rcvd.code if exc.rcvd is not None else None
    raise AssertionError("not closed")


async def test_r13_priority_tickets_leave_no_personal_data_on_hall_messages(
    server: ServerProcess,
) -> None:
    """R13: a busy hall with military, disabled, pregnant and elderly tickets issued by the guide
    and called at windows: no screen message names a category or carries an ID or mobile
    number, and neither does any server log line."""
    screens = [
        Recorder(LiveClient(server.ws_url, server.tokens[who], HALL))
        for who in ("display", "guide", "kiosk")
    ]
    for s in screens:
        await s.client.start()
        s.start()
    try:
        async with asyncio.timeout(10):
            for s in screens:
                await s.client.wait_synced()
        for i, lane in enumerate(["military", "disabled", "pregnant", "elderly", "normal"] * 4):
            r = await server.issue(who="guide", lane=lane)
            assert r.status_code == 201, r.text
            r = await server.call_next(str(1 + i % 4))
            assert r.status_code == 200, r.text
        expected = await server.comparable_snapshot()
        async with asyncio.timeout(5):
            for s in screens:
                await s.client.wait_for(lambda c: c.comparable_state() == expected)
        frames = [f for s in screens for f in s.frames()]
        assert sum(f["type"] == "event" for f in frames) >= 3 * 40
        assert_clean(frames, [server.log_text()])
    finally:
        for s in screens:
            await s.client.close()
            if s.task is not None:
                s.task.cancel()
