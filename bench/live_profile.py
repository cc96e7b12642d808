"""Where a call-next's time goes, with one window and nothing else running (no queueing).

Run: python bench/live_profile.py [--calls 200] [--pg postgresql://postgres@127.0.0.1:5432]

The live bench stamps an event's ``at`` when the command's transaction starts, so at 50
screens its latency is mostly the call-next command itself. This runs hallq in-process
(``create_app`` on PostgreSQL database ``hallq_live_profile``, **dropped and re-created**,
the memory broadcast, no uvicorn) and presses call-next ``--calls`` times, one after the other,
timing every SQL statement through SQLAlchemy's cursor events. It prints, per call, the mean
and p99 of: the whole request, the statements' time on the wire (sent → result), the Python
between them, and the tail after the last statement (COMMIT, publish, response). Then the
bare cost of an fsync'd COMMIT with raw asyncpg, for scale.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import benchlib as lib
import httpx
from queue_bench import create_pg_database
from sqlalchemy import event

from server.config import load_config
from server.web.app import create_app


class StatementClock:
    """Start and end of every statement run on an engine, while ``on``."""

    def __init__(self, sync_engine: Any) -> None:
        self.spans: list[tuple[float, float, str]] = []
        self.on = False
        self._start: dict[int, float] = {}
        event.listen(sync_engine, "before_cursor_execute", self._before)
        event.listen(sync_engine, "after_cursor_execute", self._after)

    def _before(self, conn: Any, cursor: Any, sql: str, *args: Any) -> None:
        if self.on:
            self._start[id(cursor)] = time.perf_counter()

    def _after(self, conn: Any, cursor: Any, sql: str, *args: Any) -> None:
        started = self._start.pop(id(cursor), None)
        if self.on and started is not None:
            self.spans.append((started, time.perf_counter(), " ".join(sql.split())[:60]))


def stats(values: list[float]) -> str:
    values = sorted(values)
    mean = sum(values) / len(values) if values else 0.0
    return f"mean {mean:6.2f}  p99 {lib.percentile(values, 0.99):6.2f} ms"


async def profile(args: argparse.Namespace, tmp: Path) -> None:
    config_path = lib.write_bench_config(tmp / "bench-config.toml")
    await create_pg_database(f"{args.pg}/postgres", args.pg_db)
    url = f"{args.pg.replace('postgresql://', 'postgresql+asyncpg://')}/{args.pg_db}"
    env = lib.server_env(config_path, url)
    config = load_config(config_path)
    app = create_app(config, database_url=url, housekeeping=False, broadcast_url="memory://")
    async with app.router.lifespan_context(app):
        token = lib.enroll_specs(env, [{"role": "terminal", "name": "p", "window": "1"}])[0]
        await lib.reset_tickets(url)
        await lib.seed_waiting(url, args.calls + 50)
        # A cursor listener turns storage/fast.py's driver path off: --no-statements keeps it.
        clock = StatementClock(app.state.hallq.db.engine.sync_engine) if args.statements else None
        transport = httpx.ASGITransport(app=app)
        path = f"/api/v1/halls/{lib.HALL}/windows/1/call-next"
        headers = {"Authorization": f"Bearer {token}"}
        rows: list[dict[str, float]] = []
        counts: dict[str, int] = {}
        spent: dict[str, float] = {}
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            for i in range(args.calls + 10):
                if clock is not None:
                    clock.spans.clear()
                    clock.on = True
                t0 = time.perf_counter()
                r = await http.post(
                    path,
                    json={"finish_current": True},
                    headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
                )
                t1 = time.perf_counter()
                assert r.status_code == 200, r.text
                if i < 10:
                    continue  # warm-up: statement caches, prepared statements
                if clock is None:
                    rows.append({"total": (t1 - t0) * 1000})
                    continue
                clock.on = False
                spans = clock.spans
                wire = sum(e - s for s, e, _ in spans)
                rows.append(
                    {
                        "total": (t1 - t0) * 1000,
                        "statements": wire * 1000,
                        "before first": (spans[0][0] - t0) * 1000,
                        "python between": ((spans[-1][1] - spans[0][0]) - wire) * 1000,
                        "after last (commit, publish, reply)": (t1 - spans[-1][1]) * 1000,
                    }
                )
                for start, end, sql in spans:
                    counts[sql] = counts.get(sql, 0) + 1
                    spent[sql] = spent.get(sql, 0.0) + (end - start) * 1000
    print(f"call-next with finish_current, {args.calls} calls one after another, in-process:")
    for key in rows[0]:
        print(f"  {key:38s} {stats([r[key] for r in rows])}")
    if counts:
        print(f"  statements per call: {sum(counts.values()) / len(rows):.1f}")
    for sql, n in sorted(counts.items(), key=lambda kv: -spent[kv[0]]):
        print(f"    {n / len(rows):4.1f}× {spent[sql] / n:5.2f} ms  {sql}")
    conn = await asyncpg.connect(f"{args.pg}/{args.pg_db}")
    try:
        commits = []
        for _ in range(50):
            t0 = time.perf_counter()
            async with conn.transaction():
                await conn.execute("UPDATE halls SET seq = seq WHERE id = $1", lib.HALL)
            commits.append((time.perf_counter() - t0) * 1000)
        print(f"raw asyncpg BEGIN; UPDATE halls; COMMIT (fsync): {stats(commits)}")
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--pg", default=os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
    )
    parser.add_argument("--pg-db", default="hallq_live_profile", help="dropped and re-created")
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument(
        "--no-statements",
        dest="statements",
        action="store_false",
        help="time whole requests only (statement timing disables the driver fast path)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hallq-live-profile-") as tmp:
        asyncio.run(profile(args, Path(tmp)))


if __name__ == "__main__":
    main()
