"""Queue benchmark: issue and call-next against a real uvicorn, on PostgreSQL and on SQLite.

Run: scripts/bench [--backends postgres,sqlite] [--issue-seconds 10] [--tickets 10000]

Per backend: a fresh database (PostgreSQL: drops and creates ``hallq_bench``; SQLite: a temp
file), devices enrolled with ``hallq device add --json``, then
  bare        the limit: one-statement counter upsert + ticket insert (raw asyncpg, 16
              connections; on SQLite one sqlite3 writer), no HTTP, no idempotency/audit/outbox
  issue       16 kiosks POSTing tickets, each with a fresh Idempotency-Key, over keep-alive
  call-next   8 and 25 windows pressing call-next (finish_current) against 10,000 waiting
              tickets until drained; then every ticket is checked to be called exactly once
The server is a subprocess (uvicorn, uvloop, httptools), restarted per scenario; the load comes
from bench/queue_load.py processes. Everything listens on 127.0.0.1. Prints one table.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import benchlib as lib

LOAD = Path(__file__).with_name("queue_load.py")


@dataclass
class Row:
    scenario: str
    backend: str
    ops: float
    p50: float
    p99: float
    ok: int
    bare: float | None = None
    duplicates: str = "-"
    errors: dict[str, int] = field(default_factory=dict)
    checks: str = ""
    goal: str = ""


def run_loads(job: dict[str, Any], parts: list[dict[str, Any]], timeout: float) -> dict[str, Any]:
    """Run one load process per part (merged into ``job``), all starting at the same instant."""
    start_at = time.time() + 1.5  # after the load processes have started and imported uvloop
    procs = []
    for part in parts:
        # Results go to a file: a pipe would fill up and block the child before we read it.
        out_file = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - closed after the read
        p = subprocess.Popen(
            [sys.executable, str(LOAD)], stdin=subprocess.PIPE, stdout=out_file, text=True
        )
        assert p.stdin is not None
        p.stdin.write(json.dumps({**job, **part, "start_at": start_at}))
        p.stdin.close()
        procs.append((p, out_file))
    merged: dict[str, Any] = {"ok": 0, "elapsed": 0.0, "lat": [], "errors": {}, "called": []}
    deadline = time.monotonic() + timeout
    for p, out_file in procs:
        try:
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            for q, _ in procs:
                q.kill()
            raise
        if p.returncode != 0:
            raise RuntimeError(f"load generator ({job['mode']}) exited with {p.returncode}")
        out_file.seek(0)
        out = json.load(out_file)
        out_file.close()
        merged["ok"] += out["ok"]
        merged["elapsed"] = max(merged["elapsed"], out["elapsed"])
        merged["lat"] += out["lat"]
        merged["called"] += out.get("called", [])
        for k, v in out["errors"].items():
            merged["errors"][k] = merged["errors"].get(k, 0) + v
    return merged


def split(items: list[Any], n: int) -> list[list[Any]]:
    return [items[i::n] for i in range(n) if items[i::n]]


def row_from(scenario: str, backend: str, res: dict[str, Any]) -> Row:
    lat = sorted(res["lat"])
    ops = res["ok"] / res["elapsed"] if res["elapsed"] else 0.0
    return Row(
        scenario,
        backend,
        ops,
        lib.percentile(lat, 0.5) * 1000,
        lib.percentile(lat, 0.99) * 1000,
        res["ok"],
        errors=res["errors"],
    )


async def create_pg_database(
    admin_dsn: str, name: str, settings: dict[str, str] | None = None
) -> None:
    """Drop and re-create ``name``; ``settings`` (diagnosis only) become its defaults."""
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
        for key, value in (settings or {}).items():
            await conn.execute(f'ALTER DATABASE "{name}" SET {key} = {value}')
    finally:
        await conn.close()


def bench_backend(
    backend: str,
    args: argparse.Namespace,
    config: Path,
    tmp: Path,
) -> list[Row]:
    rows: list[Row] = []
    log = tmp / f"server-{backend}.log"
    if backend == "postgres":
        asyncio.run(create_pg_database(f"{args.pg}/postgres", args.pg_db))
        url = f"{args.pg.replace('postgresql://', 'postgresql+asyncpg://')}/{args.pg_db}"
    else:
        db_path = tmp / "hallq.db"
        url = f"sqlite+aiosqlite:///{db_path}"
    env = lib.server_env(config, url)
    if args.redis:
        env["HALLQ_BROADCAST_URL"] = args.redis
    workers = args.workers if backend == "postgres" or args.sqlite_workers else 1
    t = time.monotonic()
    kiosks, terminals = lib.enroll(env, args.kiosks, lib.ALL_WINDOWS)
    print(
        f"[{backend}] enrolled {len(kiosks)} kiosks, {len(terminals)} terminals "
        f"in {time.monotonic() - t:.1f} s",
        file=sys.stderr,
    )

    # 1. the bare limit
    day = lib.today().isoformat()
    if backend == "postgres":
        job = {
            "mode": "bare-pg",
            "dsn": f"{args.pg}/{args.pg_db}",
            "day": day,
            "concurrency": args.kiosks,
            "seconds": args.bare_seconds,
            "max_ops": 10**6,
        }
        res = run_loads(job, [{}], args.bare_seconds + 60)
    else:
        job = {
            "mode": "bare-sqlite",
            "path": str(db_path),
            "day": day,
            "seconds": args.bare_seconds,
            "max_ops": 10**6,
        }
        res = run_loads(job, [{}], args.bare_seconds + 60)
    bare = row_from("bare issue (1 statement)", backend, res)
    bare.bare = 1.0
    rows.append(bare)
    print(f"[{backend}] bare {bare.ops:.0f}/s", file=sys.stderr)

    # 2. issue
    asyncio.run(lib.reset_tickets(url))
    seq0 = asyncio.run(lib.hall_seq(url))
    with lib.run_server(env, log, workers=workers) as srv:
        if args.ceiling:
            job = {"mode": "live", "url": srv.url, "seconds": 3, "max_ops": 10**6}
            parts = [{"concurrency": len(p)} for p in split(kiosks, args.load_procs)]
            res = run_loads(job, parts, 60)
            r = row_from("client ceiling: GET /health/live", backend, res)
            r.bare = r.ops / bare.ops
            rows.append(r)
        job = {
            "mode": "issue",
            "url": srv.url,
            "hall": lib.HALL,
            "queues": lib.ISSUE_QUEUES,
            "seconds": args.issue_seconds,
            "max_ops": 10**6,
        }
        parts = [{"tokens": p} for p in split(kiosks, args.load_procs)]
        res = run_loads(job, parts, args.issue_seconds + 60)
    r = row_from(f"issue, {len(kiosks)} kiosks", backend, res)
    r.bare = r.ops / bare.ops
    c = asyncio.run(lib.check_issue(url, seq0))
    consistent = c["tickets"] == c["idempotency"] == c["audit"] == c["events"] == r.ok
    consistent = consistent and c["seq_advance"] == c["events"]
    r.checks = (
        f"tickets={c['tickets']} idem={c['idempotency']} audit={c['audit']} "
        f"events={c['events']} seq+={c['seq_advance']} " + ("OK" if consistent else "MISMATCH")
    )
    r.duplicates = str(c["duplicate_numbers"])
    want_ops, want_p99 = (3000, 20.0) if backend == "postgres" else (1000, None)
    met = r.ops >= want_ops and (want_p99 is None or r.p99 <= want_p99)
    r.goal = f"≥{want_ops}/s" + (f", p99≤{want_p99:.0f}ms" if want_p99 else "")
    r.goal += ": met" if met else ": NOT met"
    rows.append(r)
    print(f"[{backend}] issue {r.ops:.0f}/s p99 {r.p99:.1f} ms", file=sys.stderr)

    # 3. call-next against N waiting tickets
    for n_windows in args.windows:
        asyncio.run(lib.reset_tickets(url))
        wins = lib.ALL_WINDOWS[:n_windows]
        with lib.run_server(env, log, workers=workers) as srv:
            asyncio.run(lib.seed_waiting(url, args.tickets))
            job = {
                "mode": "call",
                "url": srv.url,
                "hall": lib.HALL,
                "seconds": args.call_seconds,
                "max_ops": args.tickets + 10,
            }
            parts = [
                {"windows": {w: terminals[w] for w in p}} for p in split(wins, args.load_procs)
            ]
            res = run_loads(job, parts, args.call_seconds + 60)
        r = row_from(f"call-next, {n_windows} windows, {args.tickets} waiting", backend, res)
        r.bare = r.ops / bare.ops
        c = asyncio.run(lib.check_calls(url))
        client_dups = len(res["called"]) - len(set(res["called"]))
        r.duplicates = str(c["duplicates"] + client_dups)
        # Every ticket the windows were handed is called once in the database, no more, no
        # fewer; a run cut short by --call-seconds leaves the rest waiting (still checked).
        consistent = c["called"] == c["audit_calls"] == len(res["called"])
        drained = c["waiting"] == 0 and c["called"] == args.tickets
        r.checks = (
            f"called={c['called']} audit_calls={c['audit_calls']} client_got={len(res['called'])} "
            f"left_waiting={c['waiting']} "
            + ("consistent" if consistent else "MISMATCH")
            + ("" if drained else f", not drained within {args.call_seconds:.0f} s")
        )
        want = 2000 if backend == "postgres" else 1000
        met = r.ops >= want and r.duplicates == "0" and consistent
        r.goal = f"≥{want}/s, 0 dup: " + ("met" if met else "NOT met")
        rows.append(r)
        print(
            f"[{backend}] call-next x{n_windows} {r.ops:.0f}/s dups {r.duplicates}", file=sys.stderr
        )
    return rows


def print_table(rows: list[Row]) -> None:
    head = [
        "scenario",
        "backend",
        "ops/s",
        "p50 ms",
        "p99 ms",
        "ratio to bare",
        "duplicates",
        "errors",
        "goal",
    ]
    body = [
        [
            r.scenario,
            r.backend,
            f"{r.ops:,.0f}",
            f"{r.p50:.2f}",
            f"{r.p99:.2f}",
            f"{r.bare:.2f}" if r.bare is not None else "-",
            r.duplicates,
            ",".join(f"{k}×{v}" for k, v in r.errors.items()) or "0",
            r.goal or "-",
        ]
        for r in rows
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body, strict=True)]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)) + " |"
    print(line)
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for b in body:
        print("| " + " | ".join(str(x).ljust(w) for x, w in zip(b, widths, strict=True)) + " |")
    print()
    for r in rows:
        if r.checks:
            print(f"checks {r.backend} / {r.scenario}: {r.checks}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backends", default="postgres,sqlite")
    parser.add_argument(
        "--pg",
        default=os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432"),
        help="PostgreSQL server DSN without database (default: %(default)s)",
    )
    parser.add_argument("--pg-db", default="hallq_bench", help="dropped and re-created")
    parser.add_argument("--kiosks", type=int, default=16)
    parser.add_argument("--issue-seconds", type=float, default=10.0)
    parser.add_argument("--bare-seconds", type=float, default=5.0)
    parser.add_argument(
        "--call-seconds", type=float, default=25.0, help="upper bound per call-next scenario"
    )
    parser.add_argument("--tickets", type=int, default=10_000)
    parser.add_argument("--windows", default="8,25")
    parser.add_argument(
        "--load-procs", type=int, default=2, help="load processes (2: best on 2 cores)"
    )
    parser.add_argument(
        "--no-ceiling",
        dest="ceiling",
        action="store_false",
        help="skip measuring the load generator's ceiling on GET /health/live",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="server processes on PostgreSQL (> 1 starts a private redis-server for them)",
    )
    parser.add_argument(
        "--sqlite-workers",
        action="store_true",
        help="run SQLite with --workers processes too (writers serialise on the file's lock; "
        "measured slower than one process, see docs/performance.md)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp folder")
    args = parser.parse_args()
    args.redis = None
    args.windows = [int(w) for w in args.windows.split(",")]
    if max(args.windows) > len(lib.ALL_WINDOWS):
        parser.error(f"at most {len(lib.ALL_WINDOWS)} windows")
    tmp = Path(tempfile.mkdtemp(prefix="hallq-bench-"))
    config = lib.write_bench_config(tmp / "bench-config.toml")
    started = time.monotonic()
    rows: list[Row] = []
    try:
        with contextlib.ExitStack() as stack:
            if args.workers > 1:
                args.redis = stack.enter_context(lib.private_redis(tmp))
            for backend in args.backends.split(","):
                rows += bench_backend(backend.strip(), args, config, tmp)
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"kept {tmp}", file=sys.stderr)
    print(
        f"\nhallq queue bench: {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"{platform.platform()}, {args.workers} server process(es) on PostgreSQL (1 on SQLite), "
        f"total {time.monotonic() - started:.0f} s\n"
    )
    print_table(rows)


if __name__ == "__main__":
    main()
