"""Live bench: call → screen latency of hallq's ``/ws``, against a bare Starlette broadcast.

Run: python bench/live_bench.py   (or scripts/bench --live)   — about 4–5 minutes.

Screens are websocket clients (a minimal ``asyncio.Protocol`` client under uvloop,
bench/live_load.py) in ``--screen-procs`` separate processes (1 by default); each sends hello
with a display token and records, for every ``ticket.called`` event, receive time − the event's
``at``. One more process plays the windows: call-next over HTTP (terminal tokens,
``finish_current``) at ``--rate`` calls/s in total, recording send and response time per ticket
number, which is joined with the screens' records afterwards (``send→screen``). Scenarios (each
with its duration flag):

  hall     50 screens on one server process                          goal p99 ≤ 10 ms
  hall-sqlite  the same (same flags) on the embedded default: SQLite, a file in the temp
           folder, and the ``memory://`` broadcast: a single-hall server  goal p99 ≤ 10 ms
  scale    1,000 screens over 2 server processes sharing a private
           redis-server (broadcast) and PostgreSQL, ≥ 60 s             goal p99 ≤ 50 ms
  big      2,000 screens on one server process                       goal ≤ 35 kB/connection
  storm    then 1,000 of those 2,000 dropped at once (sockets aborted); they reconnect with
           jitter ≤ 1 s sending epoch/last_seq                       goal all back ≤ 2 s,
                                                                     others' p99 ≤ 250 ms
  bare     bench/bare_ws.py (Starlette, per-connection queues, no DB) with 50, 1,000 and
           2,000 screens at the same rate; hallq's p99 is reported as a ratio of it

The two hall rows are not the same durability: PostgreSQL fsyncs every commit (the run
prints its one-row commit latency), while hallq runs SQLite in WAL mode with synchronous=NORMAL
(server/storage/db.py): no fsync per commit, so a commit survives an application crash but
not a power cut or kernel panic (the last transactions may be lost).

PostgreSQL: database ``hallq_live_bench`` is dropped and re-created. Servers are uvicorn
subprocesses on 127.0.0.1 run as ``hallq serve`` runs them (uvloop, httptools,
websockets-sansio, no per-message deflate). RSS per connection = (VmRSS after connecting −
VmRSS before) / connections, from /proc/PID/status.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import platform
import shutil
import sys
import tempfile
import time
from array import array
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import benchlib as lib
import live_load
from queue_bench import create_pg_database

BENCH = Path(__file__).resolve().parent
N_DISPLAYS = 20  # display tokens, shared round-robin by the screens
WINDOWS = lib.ALL_WINDOWS  # 25 terminals calling the social queue


@dataclass
class Row:
    scenario: str
    screens: int
    procs: int
    lat: list[float] = field(default_factory=list)  # recv − at, ms
    e2e: list[float] = field(default_factory=list)  # recv − HTTP send, ms
    rss_kb: float | None = None
    ratio: float | None = None
    goal: str = "-"
    notes: list[str] = field(default_factory=list)

    def pct(self, q: float, which: str = "lat") -> float:
        return lib.percentile(getattr(self, which), q)


# --- processes ---------------------------------------------------------------------------------


def cpu_s(pid: int) -> float:
    """User + system CPU seconds the process has used (/proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class Worker:
    """A load process (spawned) answering commands over a Pipe."""

    def __init__(self, target: Any) -> None:
        ctx = mp.get_context("spawn")
        self.pipe, child = ctx.Pipe()
        self.proc = ctx.Process(target=target, args=(child,), daemon=True)
        self.proc.start()

    def send(self, op: str, **kw: Any) -> None:
        self.pipe.send({"op": op, **kw})

    def recv(self, timeout: float) -> Any:
        if not self.pipe.poll(timeout):
            raise TimeoutError(f"load process did not answer within {timeout:.0f} s")
        return self.pipe.recv()

    def ask(self, op: str, timeout: float = 120, **kw: Any) -> Any:
        self.send(op, **kw)
        return self.recv(timeout)

    def stop(self) -> None:
        with suppress(TimeoutError, OSError, EOFError):
            self.ask("stop", timeout=20)
        self.proc.join(5)
        if self.proc.is_alive():
            self.proc.kill()


def coverage(parts: list[dict[str, Any]], sent: dict[str, Any], screens: int) -> str:
    """Which called numbers reached fewer than ``screens`` screens (each must reach all).

    A lost last event shows no seq gap (nothing follows it): this is the check that does.
    """
    per_proc = [Counter(r["numbers"][n] for n in r["num"]) for r in parts]
    short = {
        number: [c[number] for c in per_proc]
        for number in sent
        if sum(c[number] for c in per_proc) < screens
    }
    if not short:
        return f"every call reached all {screens} screens"
    worst = sorted(short.items(), key=lambda kv: sum(kv[1]))[:3]
    return f"{len(short)} calls reached fewer than {screens} screens, e.g. " + ", ".join(
        f"{number} {sum(got)} (per screen process {'/'.join(map(str, got))})"
        for number, got in worst
    )


# --- the bench ---------------------------------------------------------------------------------


class Bench:
    def __init__(self, args: argparse.Namespace, tmp: Path) -> None:
        self.args = args
        self.tmp = tmp
        self.screens = [Worker(live_load.screens_main) for _ in range(args.screen_procs)]
        self.caller = Worker(live_load.windows_main)
        self.rows: list[Row] = []

    def close(self) -> None:
        for w in [*self.screens, self.caller]:
            w.stop()

    # helpers
    def connect(self, urls: list[str], tokens: list[str], n: int) -> tuple[int, float]:
        parts = [
            n // len(self.screens) + (i < n % len(self.screens)) for i in range(len(self.screens))
        ]
        for w, k in zip(self.screens, parts, strict=True):
            w.send("connect", urls=urls, tokens=tokens, n=k)
        replies = [w.recv(180) for w in self.screens]
        return sum(r["connected"] for r in replies), max(r["seconds"] for r in replies)

    def close_screens(self) -> None:
        for w in self.screens:
            w.send("close")
        for w in self.screens:
            w.recv(60)

    def start_calls(
        self, urls: list[str], windows: dict[str, str | None], path: str, secs: float
    ) -> None:
        self.caller.send(
            "call", urls=urls, windows=windows, path=path, rate=self.args.rate, seconds=secs
        )

    def collect(self) -> list[dict[str, Any]]:
        for w in self.screens:
            w.send("collect")
        out = []
        for w in self.screens:
            r = w.recv(120)
            for k, typ in (("idx", "i"), ("num", "i"), ("at", "d"), ("recv", "d")):
                a = array(typ)
                a.frombytes(r[k])
                r[k] = a
            out.append(r)
        return out

    def settle(self, expected: int, quiet_s: float = 2.0, limit_s: float = 30.0) -> str:
        """Wait until the screens hold ``expected`` receptions, or none came for ``quiet_s``.

        The last calls' events may still be on their way (a fixed pause would cut the slowest
        receptions, i.e. the tail, out of the percentiles); says what it saw.
        """
        t0 = time.monotonic()
        last, since = -1, t0
        n = 0
        while time.monotonic() - t0 < limit_s:
            n = sum(w.ask("received")["n"] for w in self.screens)
            if n >= expected:
                break
            if n != last:
                last, since = n, time.monotonic()
            elif time.monotonic() - since >= quiet_s:
                break
            time.sleep(0.1)
        return (
            f"last receptions waited for {time.monotonic() - t0:.1f} s: {n} of {expected} "
            f"expected (calls × screens)"
        )

    def reset_screens(self) -> None:
        for w in self.screens:
            w.ask("reset")

    def measure(
        self,
        row: Row,
        calls: dict[str, Any],
        parts: list[dict[str, Any]],
        include: Any = None,
    ) -> None:
        """Fill ``row`` from the screens' records (``include(proc, idx)`` filters screens)."""
        sent = calls["sent"]
        n = 0
        after_resp: list[float] = []
        for p, r in enumerate(parts):
            numbers = r["numbers"]
            for idx, num, at, recv in zip(r["idx"], r["num"], r["at"], r["recv"], strict=True):
                if include is not None and not include(p, idx):
                    continue
                n += 1
                row.lat.append((recv - at) * 1000)
                s = sent.get(numbers[num])
                if s is not None:
                    row.e2e.append((recv - s[0]) * 1000)
                    after_resp.append((recv - s[1]) * 1000)
        row.lat.sort()
        row.e2e.sort()
        http = sorted(x * 1000 for x in calls["lat"])
        # Where the slowest calls fell (completion order): at the start means warm-up.
        worst = sorted(range(len(calls["lat"])), key=lambda i: -calls["lat"][i])[:3]
        row.notes.append(
            "slowest HTTP calls: "
            + ", ".join(
                f"#{i + 1} of {len(calls['lat'])} {calls['lat'][i] * 1000:.0f} ms" for i in worst
            )
        )
        errs = {k: v for k, v in calls["errors"].items()}
        gaps = sum(r["gaps"] for r in parts)
        dups = sum(r["dups"] for r in parts)
        snapshots = sum(r["snapshots"] for r in parts)
        unexpected = sum(r["unexpected"] for r in parts)
        screen_errors: Counter[str] = sum((Counter(r["errors"]) for r in parts), Counter())
        row.notes.append(
            f"calls {len(sent)} in {calls['elapsed']:.0f} s (HTTP call p50 "
            f"{lib.percentile(http, 0.5):.1f} / p99 {lib.percentile(http, 0.99):.1f} ms"
            f"{', errors ' + str(errs) if errs else ''}); receptions {n}"
            f"; send→screen p50 {row.pct(0.5, 'e2e'):.1f} / p99 {row.pct(0.99, 'e2e'):.1f} ms"
            f"; screen − HTTP response p50 {lib.percentile(sorted(after_resp), 0.5):+.1f} ms"
            f"; seq gaps {gaps}, duplicates {dups}, snapshots mid-run {snapshots}, "
            f"unexpected reconnects {unexpected}"
            + (f", screen errors {dict(screen_errors)}" if screen_errors else "")
        )

    # scenarios
    def steady(
        self,
        name: str,
        urls: list[str],
        pids: list[int],
        tokens: list[str],
        windows: dict[str, str | None],
        path: str,
        n: int,
        secs: float,
    ) -> Row:
        load = os.getloadavg()[0]
        rss0 = sum(rss_kb(p) for p in pids)
        connected, ramp = self.connect(urls, tokens, n)
        time.sleep(1.0)
        rss1 = sum(rss_kb(p) for p in pids)
        row = Row(name, connected, len(pids))
        row.rss_kb = (rss1 - rss0) / max(1, connected)
        print(
            f"[{name}] {connected}/{n} screens connected in {ramp:.1f} s; server RSS "
            f"{rss0 // 1024}→{rss1 // 1024} MB; load {load:.2f}",
            file=sys.stderr,
        )
        self.reset_screens()
        screen_pids = [w.proc.pid for w in self.screens if w.proc.pid is not None]
        cpu0 = sum(cpu_s(p) for p in pids)
        screen_cpu0 = sum(cpu_s(p) for p in screen_pids)
        self.start_calls(
            [u.replace("ws://", "http://")[: -len("/ws")] for u in urls], windows, path, secs
        )
        calls = self.caller.recv(secs + 60)
        cpu = sum(cpu_s(p) for p in pids) - cpu0
        screen_cpu = sum(cpu_s(p) for p in screen_pids) - screen_cpu0
        settled = self.settle(len(calls["sent"]) * connected)
        parts = self.collect()
        self.measure(row, calls, parts)
        row.notes.append(f"{settled}; {coverage(parts, calls['sent'], connected)}")
        # CPU is far less sensitive to a busy machine than latency: compare it across runs.
        # The screens' own CPU shows whether the harness, not the server, is the limit.
        row.notes.insert(
            0,
            f"load average {load:.2f} → {os.getloadavg()[0]:.2f}; server CPU {cpu:.1f} s in "
            f"{calls['elapsed']:.0f} s ({cpu / max(1, len(calls['sent'])) * 1000:.1f} ms per call)"
            f"; screen processes CPU {screen_cpu:.1f} s "
            f"({screen_cpu / max(1, len(row.lat)) * 1e6:.0f} µs per reception)",
        )
        self.rows.append(row)
        print(f"[{name}] p50 {row.pct(0.5):.1f} p99 {row.pct(0.99):.1f} ms", file=sys.stderr)
        return row

    def storm(
        self, name: str, url: str, pid: int, windows: dict[str, str | None], path: str
    ) -> Row:
        a = self.args
        per_proc = a.storm_drop // len(self.screens)
        load = os.getloadavg()[0]
        self.reset_screens()
        self.start_calls([url], windows, path, a.storm_seconds)
        time.sleep(2.0)
        screen_pids = [w.proc.pid for w in self.screens if w.proc.pid is not None]
        cpu0, screen_cpu0 = cpu_s(pid), sum(cpu_s(p) for p in screen_pids)
        for w in self.screens:
            w.send("drop", n=per_proc)
        dropped = sum(w.recv(30)["dropped"] for w in self.screens)
        t_drop = time.monotonic()
        back_s = None
        status: list[dict[str, Any]] = []
        while time.monotonic() - t_drop < a.storm_seconds:
            time.sleep(0.1)
            status = [w.ask("storm_status", n=per_proc) for w in self.screens]
            if sum(s["back"] for s in status) >= dropped:
                back_s = max(s["max_s"] for s in status)
                break
        # CPU from the drop until all were back (to within the 0.1 s poll): what the storm cost,
        # the others' fan-out and the calls included; the screens' own share says whether the
        # harness, not the server, is the limit.
        storm_s = time.monotonic() - t_drop
        cpu = cpu_s(pid) - cpu0
        screen_cpu = sum(cpu_s(p) for p in screen_pids) - screen_cpu0
        calls = self.caller.recv(a.storm_seconds + 60)
        settled = self.settle(len(calls["sent"]) * self.rows[-1].screens)
        parts = self.collect()
        status = [w.ask("storm_status", n=per_proc) for w in self.screens]
        back = sum(s["back"] for s in status)
        row = Row(name, self.rows[-1].screens - dropped, 1)
        self.measure(row, calls, parts, include=lambda p, idx: idx >= per_proc)
        dropped_row = Row("", 0, 1)
        self.measure(dropped_row, calls, parts, include=lambda p, idx: idx < per_proc)
        kinds = {k: sum(s.get(k, 0) for s in status) for k in ("heartbeat", "snapshot")}
        row.notes.insert(
            0,
            f"dropped {dropped} at once; back and resynced: {back}/{dropped}, the last after "
            + (f"{back_s:.2f} s" if back_s is not None else f"> {a.storm_seconds:.0f} s")
            + f" (replay {kinds['heartbeat']}, snapshot {kinds['snapshot']}); the dropped "
            f"screens' own receptions p99 {dropped_row.pct(0.99):.0f} ms (replays); "
            f"load average {load:.2f} → {os.getloadavg()[0]:.2f}; in those {storm_s:.1f} s the "
            f"server used {cpu:.2f} s CPU ({cpu / storm_s:.0%} of a core, "
            f"{cpu / max(1, dropped) * 1000:.2f} ms per reconnect with the fan-out meanwhile), "
            f"the screen processes {screen_cpu:.2f} s",
        )
        row.notes.append(f"{settled}; {coverage(parts, calls['sent'], self.rows[-1].screens)}")
        met = back == dropped and back_s is not None and back_s <= 2.0
        met = met and row.pct(0.99) <= 250
        row.goal = f"back ≤2 s ({back_s or float('nan'):.2f}), others p99 ≤250: " + (
            "met" if met else "NOT met"
        )
        self.rows.append(row)
        return row


def run(args: argparse.Namespace, tmp: Path) -> list[Row]:
    config = lib.write_bench_config(tmp / "bench-config.toml")
    asyncio.run(create_pg_database(f"{args.pg}/postgres", args.pg_db, args.pg_setting))
    url = f"{args.pg.replace('postgresql://', 'postgresql+asyncpg://')}/{args.pg_db}"
    # The disk's commit tail, measured in the same run: a floor under every p99 below.
    disk = asyncio.run(lib.commit_latency(f"{args.pg}/{args.pg_db}"))
    print(f"[disk] {disk}", file=sys.stderr)
    args.disk = disk
    bench = Bench(args, tmp)
    try:
        with lib.private_redis(tmp) if not args.redis else _given(args.redis) as redis_url:
            env = lib.server_env(config, url)
            env["HALLQ_BROADCAST_URL"] = redis_url
            specs = [{"role": "display", "name": f"bench-display-{i}"} for i in range(N_DISPLAYS)]
            specs += [{"role": "terminal", "name": f"bench-t-{w}", "window": w} for w in WINDOWS]
            tokens = lib.enroll_specs(env, specs)
            displays, terms = (
                tokens[:N_DISPLAYS],
                dict(zip(WINDOWS, tokens[N_DISPLAYS:], strict=True)),
            )
            windows: dict[str, str | None] = dict(terms)
            path = f"/api/v1/halls/{lib.HALL}/windows/{{window}}/call-next"
            log = tmp / "server.log"
            scen = args.scenarios

            def fresh(secs: float) -> None:
                asyncio.run(lib.reset_tickets(url))
                asyncio.run(lib.seed_waiting(url, int(secs * args.rate * 1.3) + 100))

            if "hall" in scen:
                fresh(args.hall_seconds)
                hall_row(bench, "hall", env, log, displays, windows, path)
            if "hall-sqlite" in scen:
                hall_sqlite(bench, config, tmp, specs, path)
            if "scale" in scen:
                fresh(args.scale_seconds)
                with lib.run_server(env, log) as s1, lib.run_server(env, log) as s2:
                    r = bench.steady(
                        "scale (redis)",
                        [_ws(s1.url), _ws(s2.url)],
                        [s1.proc.pid, s2.proc.pid],
                        displays,
                        windows,
                        path,
                        args.scale_screens,
                        args.scale_seconds,
                    )
                    bench.close_screens()
                r.goal = _goal(bool(r.lat) and r.pct(0.99) <= 50, "p99 ≤50 ms")
            if "big" in scen:
                fresh(args.big_seconds + args.storm_seconds)
                with lib.run_server(env, log) as s:
                    r = bench.steady(
                        "big",
                        [_ws(s.url)],
                        [s.proc.pid],
                        displays,
                        windows,
                        path,
                        args.big_screens,
                        args.big_seconds,
                    )
                    r.goal = _goal((r.rss_kb or 0) <= 35, "≤35 kB/conn")
                    if "storm" in scen:
                        bench.storm("storm (others)", s.url, s.proc.pid, windows, path)
                    bench.close_screens()
            if "bare" in scen:
                bare_env = dict(os.environ)
                bare_app = ["bare_ws:app", "--app-dir", str(BENCH)]
                bare_windows: dict[str, str | None] = dict.fromkeys(WINDOWS)
                for n in (args.hall_screens, args.scale_screens, args.big_screens):
                    with lib.run_server(bare_env, tmp / "bare.log", app=bare_app) as s:
                        r = bench.steady(
                            "bare starlette",
                            [_ws(s.url)],
                            [s.proc.pid],
                            ["-"],
                            bare_windows,
                            "/call/{window}",
                            n,
                            args.bare_seconds,
                        )
                        bench.close_screens()
        bare = {r.screens: r for r in bench.rows if r.scenario == "bare starlette"}
        for r in bench.rows:
            if r.scenario == "bare starlette":
                r.ratio = 1.0
                continue
            b = _nearest(bare, r.screens)
            if b is not None and b.pct(0.99) > 0:
                r.ratio = r.pct(0.99) / b.pct(0.99)
        return bench.rows
    finally:
        bench.close()


SQLITE_DURABILITY = (
    "SQLite in WAL mode with synchronous=NORMAL: no fsync per commit (durable across an "
    "application crash, not a power cut), unlike the PostgreSQL rows"
)


def hall_sqlite(
    bench: Bench, config: Path, tmp: Path, specs: list[dict[str, str]], path: str
) -> None:
    """The hall row on the embedded default: a SQLite file and the ``memory://`` broadcast."""
    args = bench.args
    url = f"sqlite+aiosqlite:///{tmp / 'hallq-live.db'}"
    env = lib.server_env(config, url)
    env["HALLQ_BROADCAST_URL"] = "memory://"
    tokens = lib.enroll_specs(env, specs)
    displays = tokens[:N_DISPLAYS]
    windows: dict[str, str | None] = dict(zip(WINDOWS, tokens[N_DISPLAYS:], strict=True))
    asyncio.run(lib.reset_tickets(url))
    asyncio.run(lib.seed_waiting(url, int(args.hall_seconds * args.rate * 1.3) + 100))
    r = hall_row(bench, "hall (sqlite)", env, tmp / "server-sqlite.log", displays, windows, path)
    r.notes.append(SQLITE_DURABILITY)


def hall_row(
    bench: Bench,
    name: str,
    env: dict[str, str],
    log: Path,
    displays: list[str],
    windows: dict[str, str | None],
    path: str,
) -> Row:
    """A real hall: ``--hall-screens`` screens on one server process (goal p99 ≤ 10 ms)."""
    args = bench.args
    with lib.run_server(env, log) as s:
        r = bench.steady(
            name,
            [_ws(s.url)],
            [s.proc.pid],
            displays,
            windows,
            path,
            args.hall_screens,
            args.hall_seconds,
        )
        bench.close_screens()
    r.goal = _goal(bool(r.lat) and r.pct(0.99) <= 10, "p99 ≤10 ms")
    return r


def _ws(http_url: str) -> str:
    return http_url.replace("http://", "ws://") + "/ws"


def _goal(ok: bool, text: str) -> str:
    return f"{text}: " + ("met" if ok else "NOT met")


def _nearest(bare: dict[int, Row], n: int) -> Row | None:
    if not bare:
        return None
    return bare[min(bare, key=lambda k: abs(k - n))]


@contextmanager
def _given(url: str) -> Iterator[str]:
    yield url


def print_table(rows: list[Row]) -> None:
    head = ["scenario", "screens", "server procs", "p50 ms", "p99 ms", "max ms"]
    head += ["RSS kB/conn", "p99 / bare", "goal"]
    body = [
        [
            r.scenario,
            str(r.screens),
            str(r.procs),
            f"{r.pct(0.5):.1f}",
            f"{r.pct(0.99):.1f}",
            f"{r.lat[-1] if r.lat else 0:.1f}",
            f"{r.rss_kb:.1f}" if r.rss_kb is not None else "-",
            f"{r.ratio:.2f}" if r.ratio is not None else "-",
            r.goal,
        ]
        for r in rows
    ]
    widths = [max(len(x) for x in col) for col in zip(head, *body, strict=True)]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for b in body:
        print("| " + " | ".join(x.ljust(w) for x, w in zip(b, widths, strict=True)) + " |")
    print("\nlatency = screen receive time − the event's `at` (same clock); notes:")
    for r in rows:
        for note in r.notes:
            print(f"  {r.scenario} ({r.screens}): {note}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--pg",
        default=os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432"),
        help="PostgreSQL server DSN without database (default: %(default)s)",
    )
    parser.add_argument("--pg-db", default="hallq_live_bench", help="dropped and re-created")
    parser.add_argument("--redis", help="redis URL to use (default: a private redis-server)")
    parser.add_argument("--scenarios", default="hall,hall-sqlite,scale,big,storm,bare")
    parser.add_argument("--rate", type=float, default=20.0, help="calls/s in total")
    # One: 2,000 screens need ~0.75 of a core; a second process only competes with the server
    # for the 2 cores (p99 at 1,000 screens 41–71 ms with one, 56–230 ms with two).
    parser.add_argument("--screen-procs", type=int, default=1)
    parser.add_argument("--hall-screens", type=int, default=50)
    # 60 s like the scale row: at 20 calls/s a 10 s run has 200 calls, so its p99 is the
    # second-slowest call, usually one of the first two (a cold pool, first statements).
    parser.add_argument("--hall-seconds", type=float, default=60.0)
    parser.add_argument("--scale-screens", type=int, default=1000)
    parser.add_argument("--scale-seconds", type=float, default=60.0)
    parser.add_argument("--big-screens", type=int, default=2000)
    parser.add_argument("--big-seconds", type=float, default=10.0)
    parser.add_argument("--storm-drop", type=int, default=1000)
    parser.add_argument("--storm-seconds", type=float, default=10.0)
    parser.add_argument("--bare-seconds", type=float, default=10.0)
    parser.add_argument("--keep", action="store_true", help="keep the temp folder (logs)")
    parser.add_argument(
        "--pg-setting",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a default for the bench database, for diagnosis only (e.g. synchronous_commit=off "
        "shows what the disk's fsync costs; it gives up durability, so such a run is no result)",
    )
    args = parser.parse_args()
    args.pg_setting = dict(kv.split("=", 1) for kv in args.pg_setting)
    args.scenarios = set(args.scenarios.split(","))
    nofile = live_load.raise_nofile()
    tmp = Path(tempfile.mkdtemp(prefix="hallq-live-bench-"))
    started = time.monotonic()
    load0 = os.getloadavg()
    try:
        rows = run(args, tmp)
    finally:
        if args.keep:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print(
        f"\nhallq live bench: Python {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"RLIMIT_NOFILE {nofile}, load average at start {load0[0]:.2f}/{load0[1]:.2f}/"
        f"{load0[2]:.2f}, at end {os.getloadavg()[0]:.2f}, total "
        f"{time.monotonic() - started:.0f} s; {args.rate:.0f} calls/s, "
        f"{args.screen_procs} screen processes"
        + (
            f"; bench database settings {args.pg_setting} (diagnosis, not a result)"
            if args.pg_setting
            else ""
        )
        + f"\n{getattr(args, 'disk', '')}"
        + (f"\nhall (sqlite): {SQLITE_DURABILITY}" if "hall-sqlite" in args.scenarios else "")
        + "\n"
    )
    print_table(rows)


if __name__ == "__main__":
    main()
