"""The hallq command line: check-config, db upgrade, device add/revoke, staff add."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import pytest

from server.cli import main
from server.domain.clock import SystemClock
from server.domain.errors import Unauthorized
from server.services import auth
from server.storage.db import Database
from tests.conftest import ROOT


@pytest.fixture
def db_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("HALLQ_DATABASE_URL", url)
    monkeypatch.setenv("HALLQ_CONFIG", str(ROOT / "config.toml"))
    return url


def authenticate(url: str, token: str) -> str:
    async def run() -> str:
        db = Database(url)
        try:
            async with db.read() as conn:
                return (await auth.authenticate(conn, token, SystemClock().now())).role
        finally:
            await db.dispose()

    return asyncio.run(run())


def test_check_config_accepts_the_shipped_file(capsys: pytest.CaptureFixture[str]) -> None:
    """The shipped config.toml passes with exit 0."""
    assert main(["check-config", str(ROOT / "config.toml")]) == 0
    assert "OK" in capsys.readouterr().out


def test_check_config_rejects_a_bad_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bad file exits 1 and names the file, the key and the fix."""
    bad = tmp_path / "bad.toml"
    text = (ROOT / "config.toml").read_text(encoding="utf-8")
    bad.write_text(
        text.replace('timezone = "Asia/Shanghai"', 'timezone = "Asia/Shanghia"', 1),
        encoding="utf-8",
    )
    assert main(["check-config", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "bad.toml" in err and "Asia/Shanghia" in err and "Fix:" in err


def test_db_upgrade_then_device_add_json(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """device add --json prints id, token and a pairing URL; the token authenticates."""
    assert main(["db", "upgrade"]) == 0
    capsys.readouterr()
    argv = [
        "device",
        "add",
        "--hall",
        "jinjiang",
        "--role",
        "terminal",
        "--window",
        "3",
        "--name",
        "3号窗口终端",
        "--json",
    ]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"id", "token", "pairing_url"}
    assert "/pair/" in out["pairing_url"]
    assert authenticate(db_url, out["token"]) == "terminal"
    assert main(["device", "revoke", out["id"]]) == 0
    with pytest.raises(Unauthorized):
        authenticate(db_url, out["token"])


def test_device_add_refuses_unknown_window(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown window is refused with exit 1 and the list of valid ones."""
    argv = [
        "device",
        "add",
        "--hall",
        "jinjiang",
        "--role",
        "terminal",
        "--window",
        "99",
        "--name",
        "x",
    ]
    assert main(argv) == 1
    assert "unknown window '99'" in capsys.readouterr().err


def test_staff_add_reads_password_from_stdin(
    db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """staff add takes the password from stdin; a short one is refused in Chinese."""
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    argv = [
        "staff",
        "add",
        "--username",
        "wang",
        "--name",
        "王小明",
        "--role",
        "staff",
        "--hall",
        "jinjiang",
        "--password-stdin",
    ]
    assert main(argv) == 1
    assert "密码至少 8 位" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO("a-long-password\n"))
    assert main(argv) == 0
    assert "staff wang created" in capsys.readouterr().out
