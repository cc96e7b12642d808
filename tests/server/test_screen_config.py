"""``[halls.display]``: validated like every key, exposed in ``Hall``, and ``show_staff = false``
keeps staff out of the snapshot itself."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from server.config import AppConfig, check_config, load_config
from server.domain.clock import ManualClock
from tests.conftest import ROOT, Hall, running_hall


def _with_display(tmp_path: Path, display: str, hall_notice: str | None = None) -> Path:
    """config.toml with jinjiang's [halls.display] table replaced by ``display``."""
    text = (ROOT / "config.toml").read_text(encoding="utf-8")
    start = text.index("[halls.display]")
    end = text.index("[[halls.zones]]", start)
    text = text[:start] + display + "\n\n" + text[end:]
    if hall_notice is not None:
        head = text.index('notice = "欢迎光临澄迈县政务服务中心金江')
        text = text[:head] + f"notice = {hall_notice}\n" + text[text.index("\n", head) + 1 :]
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_display_keys_resolve(app_config: AppConfig) -> None:
    d = app_config.hall("jinjiang").display
    assert d.notice == app_config.hall("jinjiang").notice  # falls back to halls.notice
    assert d.english is True and d.show_staff is True and d.notice_en.startswith("Welcome")
    assert app_config.hall("laocheng-2").display.show_staff is False


def test_display_notice_replaces_an_empty_hall_notice(tmp_path: Path) -> None:
    path = _with_display(tmp_path, '[halls.display]\nnotice = "请留意叫号。"', hall_notice='""')
    d = load_config(path).hall("jinjiang").display
    assert (d.notice, d.notice_en, d.english, d.show_staff) == ("请留意叫号。", "", False, True)


@pytest.mark.parametrize(
    ("display", "hall_notice", "key", "says"),
    [
        ('[halls.display]\nnotice = "另一条"', None, "display.notice", "set twice"),
        ('[halls.display]\nnotice_en = "one\\ntwo"', None, "display.notice_en", "line break"),
        ('[halls.display]\nenglish = "yes"', None, "display.english", "yes"),
        ("[halls.display]\nshow_staf = false", None, "display.show_staf", "show_staf"),
        (f'[halls.display]\nnotice = "{"长" * 501}"', '""', "display.notice", "500"),
    ],
)
def test_a_bad_display_key_is_named_with_its_fix(
    tmp_path: Path, display: str, hall_notice: str | None, key: str, says: str
) -> None:
    lines = check_config(_with_display(tmp_path, display, hall_notice))
    assert any(key in line and says in line for line in lines), lines


async def test_hall_view_exposes_the_display_keys(hall: Hall) -> None:
    body = (await hall.get("/halls/jinjiang", "display")).json()
    d = hall.config.hall("jinjiang").display
    assert body["display"] == {
        "notice": d.notice,
        "notice_en": d.notice_en,
        "english": True,
        "show_staff": True,
    }


def _staff_config(app_config: AppConfig, *, show_staff: bool, show_name: bool) -> AppConfig:
    jj = app_config.hall("jinjiang")
    jj = replace(jj, show_staff_name=show_name, display=replace(jj.display, show_staff=show_staff))
    return replace(app_config, halls={**app_config.halls, "jinjiang": jj})


@pytest.mark.parametrize(
    ("show_staff", "show_name", "staff"),
    [
        (True, True, {"name_masked": "王**"}),
        (True, False, {"name_masked": ""}),
        (False, True, None),
    ],
)
async def test_show_staff_decides_what_the_snapshot_carries(
    database_url: str,
    app_config: AppConfig,
    clock: ManualClock,
    show_staff: bool,
    show_name: bool,
    staff: dict[str, str] | None,
) -> None:
    config = _staff_config(app_config, show_staff=show_staff, show_name=show_name)
    async with running_hall(database_url, config, clock) as h:
        r = await h.post("/halls/jinjiang/windows/2/open", "clerk")
        assert r.status_code == 200, r.text
        snap = (await h.get("/halls/jinjiang/snapshot", "display")).json()
    shown = next(w for w in snap["windows"] if w["id"] == "2")["staff"]
    if staff is None:
        assert shown is None
    else:
        assert shown is not None and shown["name_masked"] == staff["name_masked"]
        assert "王小明" not in str(snap)
