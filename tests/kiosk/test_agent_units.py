"""The agent's config validation, journal and ticket composition, without a server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kiosk.agent.config import AgentConfigError, PrinterSettings, load_agent_config
from kiosk.agent.journal import Journal
from kiosk.agent.ticket import BadJob, render_job

GOOD = """\
server = "http://192.168.1.10:8080"
hall = "jinjiang"
token = "hqd_abc"
[printer]
url = "tcp://192.168.1.50:9100"
width = 58
mode = "raster"
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "kiosk-agent.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_good_config_loads_with_the_websocket_url_derived(tmp_path: Path) -> None:
    """http://host:port becomes ws://host:port/ws; the journal defaults beside the file."""
    config = load_agent_config(_write(tmp_path, GOOD))
    assert config.ws_url == "ws://192.168.1.10:8080/ws"
    assert config.printer == PrinterSettings("tcp://192.168.1.50:9100", 58, "raster", 5.0)
    assert config.journal == tmp_path / "kiosk-agent-journal.jsonl"


def test_every_problem_is_named_with_its_key_at_once(tmp_path: Path) -> None:
    """Bad server, no token, bad printer URL, width and mode, an unknown key: all reported."""
    text = (
        'server = "ftp://x"\nhall = "jinjiang"\ncolour = 1\n'
        '[printer]\nurl = "lpt1"\nwidth = 76\nmode = "ink"\n'
    )
    with pytest.raises(AgentConfigError) as caught:
        load_agent_config(_write(tmp_path, text))
    keys = [p.split(" ")[0].split(":")[0] for p in caught.value.problems]
    assert keys == ["colour", "server", "token", "printer.url", "printer.width", "printer.mode"]
    assert "hallq device add --role kiosk" in str(caught.value)


def test_a_token_file_is_read_and_a_missing_one_reported(tmp_path: Path) -> None:
    """token_file is relative to the config file; an unreadable one is a problem, not a crash."""
    text = GOOD.replace('token = "hqd_abc"', 'token_file = "kiosk.token"')
    with pytest.raises(AgentConfigError, match="token_file"):
        load_agent_config(_write(tmp_path, text))
    (tmp_path / "kiosk.token").write_text("hqd_from_file\n", encoding="utf-8")
    assert load_agent_config(_write(tmp_path, text)).token == "hqd_from_file"


def test_the_journal_survives_a_reopen_a_torn_line_and_drops_old_entries(tmp_path: Path) -> None:
    """States come back after a restart; a half-written last line and old entries are gone."""
    path = tmp_path / "j" / "journal.jsonl"
    now = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
    journal = Journal(path)
    journal.open(now)
    journal.record("old", "printed", now - timedelta(days=3))
    journal.record("a", "printing", now)
    journal.record("a", "printed", now)
    journal.record("b", "printing", now)
    with path.open("a", encoding="utf-8") as f:
        f.write('{"job": "c", "sta')  # power cut mid-write
    again = Journal(path)
    again.open(now)
    assert [again.state(j) for j in ("a", "b", "c", "old")] == ["printed", "printing", None, None]
    assert len(path.read_text(encoding="utf-8").splitlines()) == 2


def _job(**ticket: object) -> dict[str, object]:
    base = {
        "id": "j1",
        "queue": "social",
        "number": "A007",
        "issued_at": "2026-11-27T02:00:00+00:00",
        "waiting_ahead": 2,
        "estimated_wait_s": 600,
    }
    layout = {
        "hall_name": "澄迈县政务服务中心",
        "hall_subtitle": "金江政务服务大厅",
        "service": "社会事务综合窗口",
        "reminders": ["请留意叫号。"],
        "timezone": "Asia/Shanghai",
    }
    return {"id": "j1", "ticket": {**base, **ticket}, "copies": 1, "layout": layout}


def test_a_job_renders_in_hall_time_with_the_servers_texts() -> None:
    """The ticket shows its number, hall time (10:00 in Shanghai) and the configured reminder."""
    data = render_job(_job(), PrinterSettings("dummy://", 80, "text"))
    text = data.decode("gb18030", errors="replace")
    assert "A007" in text or "A 0 0 7" in text
    assert "2026-11-27 10:00:00" in text and "请留意叫号。" in text


def test_an_unreadable_job_is_a_bad_job() -> None:
    """A job without a number cannot print: BadJob (the agent acks it failed)."""
    job = _job()
    del job["ticket"]["number"]  # type: ignore[attr-defined]
    with pytest.raises(BadJob):
        render_job(job, PrinterSettings("dummy://", 80, "text"))
