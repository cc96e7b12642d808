"""``hallq demo``: the README's first command starts a working hall from nothing.

The demo runs as a real process (as a person would start it); the test reads what it prints
and follows the links: every pairing link pairs its device and names the page it belongs to,
every staff login works, and the printed curl token issues a ticket.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from server.demo import DEMO_PASSWORD
from tests.conftest import ROOT
from tests.realtime.procs import free_port

START_TIMEOUT_S = 60.0


class Demo:
    def __init__(self, proc: subprocess.Popen[bytes], log: Path, base: str) -> None:
        self.proc, self.log, self.base = proc, log, base

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


@pytest.fixture
async def demo(tmp_path: Path) -> AsyncIterator[Demo]:
    port = free_port()
    log = tmp_path / "demo.log"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TMPDIR": str(tmp_path)}
    env.pop("HALLQ_DATABASE_URL", None)
    env.pop("HALLQ_CONFIG", None)
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "server.cli", "demo", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    d = Demo(proc, log, f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        async with httpx.AsyncClient(base_url=d.base, timeout=5) as http:
            while True:
                assert proc.poll() is None, f"demo exited: {d.text()}"
                try:
                    if (await http.get("/health/ready")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, f"demo not ready: {d.text()}"
                await asyncio.sleep(0.2)
        yield d
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


async def test_demo_prints_links_that_pair_every_device(demo: Demo) -> None:
    text = demo.text()
    links = re.findall(rf"{re.escape(demo.base)}/pair/([\w-]+)", text)
    # three halls: a kiosk, a screen per zone, a terminal and a window screen per window
    assert len(links) >= 3 * 2 + 2 * 25, text
    async with httpx.AsyncClient(base_url=demo.base, timeout=10) as http:
        pages = set()
        for code in links[:12]:
            page = await http.get(f"/pair/{code}")
            assert page.status_code == 200 and "text/html" in page.headers["content-type"]
            paired = await http.post("/api/v1/devices/pair", json={"code": code})
            assert paired.status_code == 200, paired.text
            body = paired.json()
            pages.add(body["page"].split("/")[1])
            me = await http.get(
                "/api/v1/auth/me", headers={"Authorization": f"Bearer {body['token']}"}
            )
            assert me.status_code == 200 and me.json()["role"] == body["role"]
            again = await http.post("/api/v1/devices/pair", json={"code": code})
            assert again.status_code in (401, 404), "a pairing link is single use"
        assert {"kiosk", "display", "terminal"} <= pages


async def test_demo_staff_log_in_and_the_printed_token_issues(demo: Demo) -> None:
    text = demo.text()
    users = re.findall(r"login ([\w-]+)", text)
    assert "guide-jinjiang" in " ".join(users) and any(u.startswith("w1-") for u in users)
    token = re.search(r"Authorization: Bearer (\S+?)'", text)
    assert token, text
    async with httpx.AsyncClient(base_url=demo.base, timeout=10) as http:
        for user in ("guide-jinjiang", "w1-jinjiang"):
            r = await http.post(
                "/api/v1/auth/login", json={"username": user, "password": DEMO_PASSWORD}
            )
            assert r.status_code == 200, r.text
        issued = await http.post(
            "/api/v1/halls/jinjiang/tickets",
            json={"queue": "social"},
            headers={"Authorization": f"Bearer {token.group(1)}", "Idempotency-Key": "demo-1"},
        )
        assert issued.status_code == 201, issued.text
        assert re.fullmatch(r"A\d{3}", issued.json()["number"])
