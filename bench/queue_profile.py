"""CPU per command, in one process: the ASGI app driven through httpx.ASGITransport.

Run: .venv/bin/python bench/queue_profile.py issue|call [--ops 300] [--database-url URL]
     [--profile 40]

No uvicorn, no sockets between client and app: what is left is hallq's own CPU per command
(plus httpx's client side), measured with ``time.process_time()`` over ``--ops`` sequential
commands after 20 warm-up ones. ``--profile N`` runs them under cProfile and prints the N
most expensive functions by internal time. The database defaults to a fresh SQLite file; a
PostgreSQL URL (``postgresql+asyncpg://…/db``) must name an empty database of your own.
Compare runs back to back: the numbers move with the machine's load.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import tempfile
import time
import uuid
from pathlib import Path

import benchlib as lib
import httpx

from server.web.factory import app_from_env

WINDOW = "X1"
WARM_UP = 20


async def run(mode: str, ops: int, token: str, profile: int) -> None:
    app = app_from_env()  # reads HALLQ_CONFIG and HALLQ_DATABASE_URL, set by main()
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(transport=transport, base_url="http://hallq.bench") as c:
            body: dict[str, object]
            if mode == "issue":
                path, body, want = f"/api/v1/halls/{lib.HALL}/tickets", {"queue": "social"}, 201
            else:
                path = f"/api/v1/halls/{lib.HALL}/windows/{WINDOW}/call-next"
                body, want = {"finish_current": True}, 200

            async def one() -> None:
                key = {"Idempotency-Key": uuid.uuid4().hex}
                r = await c.post(path, json=body, headers=headers | key)
                if r.status_code != want:
                    raise RuntimeError(f"{mode}: {r.status_code} {r.text}")

            for _ in range(WARM_UP):
                await one()
            profiler = cProfile.Profile() if profile else None
            wall, cpu = time.perf_counter(), time.process_time()
            if profiler is not None:
                profiler.enable()
            for _ in range(ops):
                await one()
            if profiler is not None:
                profiler.disable()
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"{mode} x{ops}: {cpu / ops * 1000:.2f} ms CPU/op, {wall / ops * 1000:.2f} ms wall/op")
    if profiler is not None:
        pstats.Stats(profiler).sort_stats(os.environ.get("PROFILE_SORT", "tottime")).print_stats(
            profile
        )
        if os.environ.get("PROFILE_CALLERS"):
            pstats.Stats(profiler).print_callers(os.environ["PROFILE_CALLERS"])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("mode", choices=["issue", "call"])
    parser.add_argument("--ops", type=int, default=300)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--profile", type=int, default=0, metavar="N")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="hallq-profile-"))
    config = lib.write_bench_config(tmp / "bench-config.toml")
    url = args.database_url or f"sqlite+aiosqlite:///{tmp / 'hallq.db'}"
    env = lib.server_env(config, url)
    os.environ.update(env)
    kiosks, terminals = lib.enroll(env, 1, [WINDOW])
    if args.mode == "call":
        asyncio.run(lib.seed_waiting(url, args.ops + WARM_UP + 10))
    token = kiosks[0] if args.mode == "issue" else terminals[WINDOW]
    asyncio.run(run(args.mode, args.ops, token, args.profile))


if __name__ == "__main__":
    main()
