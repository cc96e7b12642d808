"""Load generator of the queue benchmark, run as its own process by bench/queue_bench.py.

Reads a JSON job on stdin, prints one JSON result on stdout:
  {"mode": "issue"|"call"|"live"|"bare-pg"|"bare-sqlite", ...}
Every loop is bounded by an op count and a deadline. All traffic goes to 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import sys
import time
import uuid
from collections import Counter
from datetime import date
from typing import Any

import asyncpg
import httpx

try:
    import uvloop
except ImportError:  # pragma: no cover - uvloop is in the lock file
    uvloop = None  # type: ignore[assignment]


def _client(url: str, token: str | None) -> httpx.AsyncClient:
    """One keep-alive connection, as one kiosk or terminal holds."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.AsyncClient(
        base_url=url,
        headers=headers,
        timeout=httpx.Timeout(10.0),
        limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
    )


async def _wait_until(at: float) -> None:
    delay = at - time.time()
    if delay > 0:
        await asyncio.sleep(delay)


async def issue(job: dict[str, Any]) -> dict[str, Any]:
    """Kiosks issuing tickets back to back, each request with a fresh Idempotency-Key."""
    lat: list[float] = []
    errors: Counter[str] = Counter()
    queues = job["queues"]
    await _wait_until(job["start_at"])
    t0 = time.perf_counter()
    deadline = t0 + job["seconds"]

    async def kiosk(i: int, token: str) -> None:
        async with _client(job["url"], token) as client:
            n = 0
            while time.perf_counter() < deadline and n < job["max_ops"]:
                body = {"queue": queues[(i + n) % len(queues)]}
                headers = {"Idempotency-Key": uuid.uuid4().hex}
                started = time.perf_counter()
                try:
                    r = await client.post(
                        f"/api/v1/halls/{job['hall']}/tickets", json=body, headers=headers
                    )
                    status = str(r.status_code)
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                if status == "201":
                    lat.append(time.perf_counter() - started)
                else:
                    errors[status] += 1
                n += 1

    await asyncio.gather(*(kiosk(i, t) for i, t in enumerate(job["tokens"])))
    return {"ok": len(lat), "elapsed": time.perf_counter() - t0, "lat": lat, "errors": errors}


async def call(job: dict[str, Any]) -> dict[str, Any]:
    """Windows pressing call-next (finish_current) until their queue is empty or time is up."""
    lat: list[float] = []
    errors: Counter[str] = Counter()
    called: list[str] = []
    await _wait_until(job["start_at"])
    t0 = time.perf_counter()
    deadline = t0 + job["seconds"]

    async def window(wid: str, token: str) -> None:
        async with _client(job["url"], token) as client:
            n = 0
            empty = 0
            while time.perf_counter() < deadline and n < job["max_ops"]:
                headers = {"Idempotency-Key": uuid.uuid4().hex}
                started = time.perf_counter()
                try:
                    r = await client.post(
                        f"/api/v1/halls/{job['hall']}/windows/{wid}/call-next",
                        json={"finish_current": True},
                        headers=headers,
                    )
                    status = str(r.status_code)
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                n += 1
                if status != "200":
                    errors[status] += 1
                    continue
                lat.append(time.perf_counter() - started)
                ticket = r.json()["ticket"]
                if ticket is None:
                    empty += 1
                    if empty >= 2:  # twice nothing: the queue is drained
                        return
                    continue
                called.append(ticket["id"])

    await asyncio.gather(*(window(w, t) for w, t in job["windows"].items()))
    elapsed = time.perf_counter() - t0
    return {"ok": len(lat), "elapsed": elapsed, "lat": lat, "errors": errors, "called": called}


async def live(job: dict[str, Any]) -> dict[str, Any]:
    """The load generator's own ceiling: GET /health/live with the same client setup."""
    lat: list[float] = []
    errors: Counter[str] = Counter()
    await _wait_until(job["start_at"])
    t0 = time.perf_counter()
    deadline = t0 + job["seconds"]

    async def one() -> None:
        async with _client(job["url"], None) as client:
            n = 0
            while time.perf_counter() < deadline and n < job["max_ops"]:
                started = time.perf_counter()
                r = await client.get("/health/live")
                n += 1
                if r.status_code == 200:
                    lat.append(time.perf_counter() - started)
                else:
                    errors[str(r.status_code)] += 1

    await asyncio.gather(*(one() for _ in range(job["concurrency"])))
    return {"ok": len(lat), "elapsed": time.perf_counter() - t0, "lat": lat, "errors": errors}


# The bare limit: counter upsert and ticket insert in one statement, no idempotency, audit or
# outbox, no HTTP, no SQLAlchemy.
BARE_PG = """
WITH c AS (
  INSERT INTO counters (hall_id, queue_id, business_date, value) VALUES ($1, $2, $3, 1)
  ON CONFLICT (hall_id, queue_id, business_date) DO UPDATE SET value = counters.value + 1
  RETURNING value
)
INSERT INTO tickets (id, hall_id, queue_id, business_date, counter, number, lane, lane_rank,
                     klass, position, channel, status, issued_at, status_token, recalls, requeues)
SELECT $4, $1, $2, $3, c.value, $5 || CASE WHEN c.value < 1000
       THEN lpad(c.value::text, 3, '0') ELSE c.value::text END, 'normal', 0, 2, c.value,
       'kiosk', 'waiting', now(), $6, 0, 0
FROM c
RETURNING counter
"""


async def bare_pg(job: dict[str, Any]) -> dict[str, Any]:
    day = date.fromisoformat(job["day"])
    lat: list[float] = []
    conns = [await asyncpg.connect(job["dsn"]) for _ in range(job["concurrency"])]
    await _wait_until(job["start_at"])
    t0 = time.perf_counter()
    deadline = t0 + job["seconds"]

    async def worker(i: int, conn: Any) -> None:
        stmt = await conn.prepare(BARE_PG)
        n = 0
        while time.perf_counter() < deadline and n < job["max_ops"]:
            queue, prefix = ("social", "A") if (i + n) % 3 == 0 else ("project", "B")
            started = time.perf_counter()
            await stmt.fetchval("bare", queue, day, uuid.uuid4().hex, prefix, uuid.uuid4().hex)
            lat.append(time.perf_counter() - started)
            n += 1

    try:
        await asyncio.gather(*(worker(i, c) for i, c in enumerate(conns)))
        elapsed = time.perf_counter() - t0
        await conns[0].execute("DELETE FROM tickets WHERE hall_id = 'bare'")
        await conns[0].execute("DELETE FROM counters WHERE hall_id = 'bare'")
    finally:
        for c in conns:
            await c.close()
    return {"ok": len(lat), "elapsed": elapsed, "lat": lat, "errors": {}}


def bare_sqlite(job: dict[str, Any]) -> dict[str, Any]:
    """SQLite's bare limit: one writer connection, WAL, BEGIN IMMEDIATE, upsert + insert."""
    db = sqlite3.connect(job["path"], isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    lat: list[float] = []
    t0 = time.perf_counter()
    deadline = t0 + job["seconds"]
    n = 0
    while time.perf_counter() < deadline and n < job["max_ops"]:
        started = time.perf_counter()
        db.execute("BEGIN IMMEDIATE")
        value = db.execute(
            "INSERT INTO counters (hall_id, queue_id, business_date, value) "
            "VALUES ('bare', 'social', ?, 1) ON CONFLICT (hall_id, queue_id, business_date) "
            "DO UPDATE SET value = value + 1 RETURNING value",
            (job["day"],),
        ).fetchone()[0]
        db.execute(
            "INSERT INTO tickets (id, hall_id, queue_id, business_date, counter, number, lane, "
            "lane_rank, klass, position, channel, status, issued_at, status_token, recalls, "
            "requeues) VALUES (?, 'bare', 'social', ?, ?, ?, 'normal', 0, 2, ?, 'kiosk', "
            "'waiting', ?, ?, 0, 0)",
            (
                uuid.uuid4().hex,
                job["day"],
                value,
                f"A{value:03d}",
                float(value),
                "2026-01-01 00:00:00.000000",
                uuid.uuid4().hex,
            ),
        )
        db.execute("COMMIT")
        lat.append(time.perf_counter() - started)
        n += 1
    elapsed = time.perf_counter() - t0
    db.execute("DELETE FROM tickets WHERE hall_id = 'bare'")
    db.execute("DELETE FROM counters WHERE hall_id = 'bare'")
    db.close()
    return {"ok": len(lat), "elapsed": elapsed, "lat": lat, "errors": {}}


MODES = {"issue": issue, "call": call, "live": live, "bare-pg": bare_pg}


def main() -> None:
    job = json.loads(sys.stdin.read())
    if job["mode"] == "bare-sqlite":
        result = bare_sqlite(job)
    else:
        coro = MODES[job["mode"]](job)
        result = uvloop.run(coro) if uvloop is not None else asyncio.run(coro)
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
