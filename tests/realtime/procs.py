"""Real processes for the resilience tests: hallq under uvicorn, a private redis-server.

Every server is ``python -m uvicorn server.web.factory:app_from_env --factory`` on a free
127.0.0.1 port with HALLQ_CONFIG (config.toml open all day every day), HALLQ_DATABASE_URL and
HALLQ_BROADCAST_URL; its stdout+stderr go to a log file the tests scan (no traceback, no
personal data). Devices are enrolled with ``server.services.auth`` on the same database
before any server starts.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from server.client.state import comparable
from server.config import AppConfig, load_config
from server.services.setup import bootstrap
from server.storage.db import Database
from tests.conftest import ROOT, _enroll, reset_postgres

HALL = "jinjiang"
WS_MAX = 65536

# R13: an ID-card number, a mobile number, a priority category.
ID_NUMBER = re.compile(r"\d{17}[\dXx]")
MOBILE = re.compile(r"1[3-9]\d{9}")
PRIORITY_WORDS = (
    "military",
    "elderly",
    "disabled",
    "pregnant",
    "appointment",
    "军人",
    "老年",
    "残疾",
    "孕妇",
    "预约",
)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def all_day_config(dest: Path) -> Path:
    """A copy of config.toml whose hours cover all day every day, without caps."""
    src = (ROOT / "config.toml").read_text(encoding="utf-8")
    src = re.sub(r"(?m)^days = \[[^\]]*\]", "days = [1, 2, 3, 4, 5, 6, 7]", src)
    src = re.sub(r"(?m)^sessions = \[[^\]]*\]", 'sessions = ["00:00-23:59"]', src)
    src = re.sub(r"(?m)^(daily_cap|stop_issuing)\s*=.*\n", "", src)
    dest.write_text(src, encoding="utf-8")
    return dest


async def prepare(database_url: str, config_path: Path) -> dict[str, str]:
    """Empty PostgreSQL at the newest schema, the config's rows, enrolled tokens (conftest's)."""
    await reset_postgres(database_url)
    config = load_config(config_path)
    db = Database(database_url)
    try:
        now = datetime.now(UTC)
        await bootstrap(db, config, now)
        return await _enroll(db, config, now)
    finally:
        await db.dispose()


def hall_config(config_path: Path) -> AppConfig:
    return load_config(config_path)


@dataclass
class ServerProcess:
    """One uvicorn subprocess serving hallq on 127.0.0.1:``port``."""

    proc: subprocess.Popen[bytes]
    port: int
    log_path: Path
    tokens: dict[str, str]
    http: httpx.AsyncClient = field(repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def rss_kb(self) -> int:
        """VmRSS of the server process, in kB."""
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        match = re.search(r"(?m)^VmRSS:\s+(\d+) kB", status)
        assert match, "no VmRSS in /proc/PID/status"
        return int(match.group(1))

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    async def post(self, path: str, who: str, body: Any = None) -> httpx.Response:
        return await self.http.post(f"/api/v1{path}", json=body, headers=self.auth(who))

    async def issue(self, queue: str = "social", who: str = "kiosk", **body: Any) -> httpx.Response:
        return await self.post(f"/halls/{HALL}/tickets", who, {"queue": queue, **body})

    async def call_next(self, window: str, who: str | None = None) -> httpx.Response:
        path = f"/halls/{HALL}/windows/{window}/call-next"
        return await self.post(path, who or f"w{window}", {"finish_current": True})

    async def snapshot(self, who: str = "display") -> dict[str, Any]:
        r = await self.http.get(f"/api/v1/halls/{HALL}/snapshot", headers=self.auth(who))
        assert r.status_code == 200, r.text
        return dict(r.json())

    async def comparable_snapshot(self) -> dict[str, Any]:
        return comparable(await self.snapshot())  # type: ignore[arg-type]

    async def ready(self) -> httpx.Response:
        return await self.http.get("/health/ready", timeout=5)


def server_env(config_path: Path, database_url: str, broadcast_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "HALLQ_CONFIG": str(config_path),
            "HALLQ_DATABASE_URL": database_url,
            "HALLQ_BROADCAST_URL": broadcast_url,
            "HALLQ_SECRET_KEY": secrets.token_hex(32),
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.pop("PYTHONASYNCIODEBUG", None)
    return env


@asynccontextmanager
async def server_process(
    config_path: Path,
    database_url: str,
    tokens: dict[str, str],
    log_path: Path,
    *,
    broadcast_url: str = "memory://",
    ready_timeout: float = 30.0,
    port: int | None = None,
    extra_env: dict[str, str] | None = None,
) -> AsyncIterator[ServerProcess]:
    """Start uvicorn as a subprocess; wait for /health/live (and ready); SIGINT on exit."""
    port = port or free_port()
    cmd = [sys.executable, "-m", "uvicorn", "server.web.factory:app_from_env", "--factory"]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--ws", "websockets-sansio"]
    cmd += ["--ws-max-size", str(WS_MAX), "--no-access-log", "--log-level", "warning"]
    env = {**server_env(config_path, database_url, broadcast_url), **(extra_env or {})}
    with log_path.open("ab") as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            server = ServerProcess(proc, port, log_path, tokens, http)
            deadline = time.monotonic() + ready_timeout
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"server exited with {proc.returncode}: {server.log_text()}")
                try:
                    if (await http.get("/health/ready", timeout=1)).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"server not ready in {ready_timeout} s: {server.log_text()}"
                    )
                await asyncio.sleep(0.1)
            yield server
    finally:
        await stop_process(proc, signal.SIGINT)


async def stop_process(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    """Signal ``proc`` and wait (≤ 10 s), then kill it."""
    if proc.poll() is None:
        proc.send_signal(sig)
    for _ in range(100):
        if proc.poll() is not None:
            return
        await asyncio.sleep(0.1)
    proc.kill()
    await asyncio.to_thread(proc.wait, 5)


class RedisProcess:
    """A private redis-server on a free 127.0.0.1 port: the R3 test really stops it."""

    def __init__(self, log_path: Path) -> None:
        self.port = free_port()
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary is not None
        cmd = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        cmd += ["--appendonly", "no", "--daemonize", "no"]
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        for _ in range(100):
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
            except OSError:
                await asyncio.sleep(0.05)
                continue
            writer.close()
            return
        raise RuntimeError("redis-server did not listen within 5 s")

    async def stop(self) -> None:
        if self.proc is not None:
            await stop_process(self.proc, signal.SIGTERM)
            self.proc = None


def need_redis_server() -> str:
    """The redis-server binary, or skip (fail under CI=true)."""
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail("redis-server is not installed: CI must run the private-Redis tests")
        pytest.skip("these tests start a private redis-server; none is installed")
    return binary


@asynccontextmanager
async def private_redis(tmp_path: Path) -> AsyncIterator[RedisProcess]:
    need_redis_server()
    redis = RedisProcess(tmp_path / "redis.log")
    await redis.start()
    try:
        yield redis
    finally:
        await redis.stop()


def personal_data_hits(texts: Iterable[str], *, hall_messages: bool) -> list[str]:
    """R13 findings in ``texts``: ID/mobile patterns anywhere, category words in hall messages."""
    hits: list[str] = []
    for t in texts:
        for pattern in (ID_NUMBER, MOBILE):
            hits += [f"{pattern.pattern}: {m!r} in {t[:120]!r}" for m in pattern.findall(t)]
        if hall_messages:
            low = t.lower()
            hits += [f"{w!r} in {t[:120]!r}" for w in PRIORITY_WORDS if w in low]
    return hits


def frame_texts(frames: Iterable[Any]) -> list[str]:
    """Frames as the JSON a screen sees (both escaped and unescaped, so Chinese words match)."""
    out: list[str] = []
    for f in frames:
        if isinstance(f, str | bytes):
            out.append(f if isinstance(f, str) else f.decode("utf-8", "replace"))
        else:
            out.append(json.dumps(f, ensure_ascii=False))
    return out


def assert_clean(frames: Iterable[Any], logs: Iterable[str]) -> None:
    """R13 on what screens received and on the server logs; also: no traceback in logs."""
    logs = list(logs)
    hits = personal_data_hits(frame_texts(frames), hall_messages=True)
    hits += personal_data_hits(logs, hall_messages=False)
    assert not hits, hits[:10]
    for text in logs:
        assert "Traceback" not in text, text[-3000:]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]
