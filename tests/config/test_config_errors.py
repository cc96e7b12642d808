"""Bad configs: every problem is reported at once, naming file, key path, wrong value and fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.config import check_config, load_config
from server.domain.errors import ConfigError

SERVER = """
[server]
port = 8080
"""
LANES = """
[[lanes]]
id = "normal"
name = "普通"
name_en = "Normal"
rank = 0
issued_by = ["kiosk", "guide"]

[[lanes]]
id = "elderly"
name = "老年人"
name_en = "Seniors"
rank = 2
issued_by = ["kiosk", "guide"]
"""
SERVICES = """
[[services]]
code = "S01"
name = "社会保险参保登记"
name_en = "Social insurance enrolment"
queue = "social"
materials = ["身份证件"]
expected_minutes = 10
"""
HALL = """
[[halls]]
id = "jinjiang"
name = "金江政务服务大厅"
name_en = "Jinjiang Government Service Hall"
org_name = "澄迈县政务服务中心"
org_name_en = "Chengmai County Government Service Center"
timezone = "Asia/Shanghai"

[halls.hours]
days = [1, 2, 3, 4, 5]
sessions = ["08:30-12:00", "14:30-17:30"]

[[halls.zones]]
id = "social"
name = "社会事务区"
name_en = "Public Services"

[[halls.zones]]
id = "project"
name = "工程建筑区"
name_en = "Project Construction"

[[halls.queues]]
id = "social"
prefix = "A"
name = "社会事务"
name_en = "Public services"
zone = "social"
daily_cap = 300
stop_issuing = "17:00"
policy = "interleave"
interleave = 2

[[halls.queues]]
id = "project"
prefix = "B"
name = "工程建筑"
name_en = "Project construction"
zone = "project"

[[halls.windows]]
id = "3"
number = 3
name = "综合窗口"
name_en = "Comprehensive window"
zone = "social"
queues = ["social", "project"]
mode = "fifo"

[[halls.windows]]
id = "7"
number = 7
name = "工程建筑窗口"
name_en = "Project window"
zone = "project"
queues = ["project"]
"""
BASE = SERVER + LANES + SERVICES + HALL
QUEUE = """
[[halls.queues]]
id = "market"
prefix = "C"
name = "市场准入"
name_en = "Market access"
zone = "social"
"""


def edit(old: str, new: str, text: str = BASE) -> str:
    """``text`` with the one occurrence of ``old`` replaced by ``new``."""
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times"
    return text.replace(old, new)


@pytest.fixture
def problems(tmp_path: Path):
    """Write a config.toml and return check_config's problem lines."""

    def check(text: str) -> list[str]:
        path = tmp_path / "config.toml"
        path.write_text(text, encoding="utf-8")
        return check_config(path)

    return check


def assert_problem(lines: list[str], path: str, *fragments: str) -> str:
    """The one line for ``path`` that contains every fragment and a fix."""
    prefix = f"config.toml: {path}: " if path else "config.toml: "
    found = [
        line
        for line in lines
        if line.startswith(prefix) and "Fix: " in line and all(f in line for f in fragments)
    ]
    assert len(found) == 1, f"no single line {prefix}… {fragments} in:\n" + "\n".join(lines)
    return found[0]


def test_base_is_valid(problems) -> None:
    """The minimal config the other tests break has no problem."""
    assert problems(BASE) == []


def test_unknown_top_level_key(problems) -> None:
    """A misspelt section is an unknown key with the right spelling suggested."""
    lines = problems(edit("[server]", "[sever]"))
    assert_problem(lines, "sever", 'unknown key "sever"', 'Fix: rename it to "server"')


def test_unknown_window_key(problems) -> None:
    """An unknown key in a window is named by hall id and window id."""
    lines = problems(edit('mode = "fifo"', 'mdoe = "fifo"'))
    assert_problem(lines, "halls.jinjiang.windows.3.mdoe", 'unknown key "mdoe"', '"mode"')


def test_quoted_number(problems) -> None:
    """A number written as a string is a wrong type with the unquoted form as the fix."""
    lines = problems(edit("port = 8080", 'port = "8080"'))
    assert_problem(lines, "server.port", 'got "8080"', "Fix: remove the quotes: port = 8080.")


def test_window_id_not_a_string(problems) -> None:
    """A window id must be a string; the window is then named by its position."""
    lines = problems(edit('id = "3"', "id = 3"))
    assert_problem(lines, "halls.jinjiang.windows[0].id", "got 3", 'id = "3"')


def test_duplicate_hall_id(problems) -> None:
    """Two halls with the same id are reported once on ``halls``."""
    lines = problems(BASE + HALL)
    assert_problem(lines, "halls", 'id "jinjiang" is used by 2 hall entries', "its own id")


def test_duplicate_queue_id_and_prefix(problems) -> None:
    """A queue repeating another's id and prefix is reported for both keys."""
    lines = problems(BASE + edit('id = "market"', 'id = "social"', edit('"C"', '"A"', QUEUE)))
    assert_problem(lines, "halls.jinjiang.queues", 'id "social" is used by 2', "its own id")
    assert_problem(lines, "halls.jinjiang.queues", 'prefix "A" is used by 2', "its own prefix")


def test_duplicate_window_id_and_number(problems) -> None:
    """Two windows with the same id and number are both reported."""
    lines = problems(edit('id = "7"\nnumber = 7', 'id = "3"\nnumber = 3'))
    assert_problem(lines, "halls.jinjiang.windows", 'id "3" is used by 2 window', "own id")
    assert_problem(lines, "halls.jinjiang.windows", 'number "3" is used by 2', "own number")


def test_duplicate_zone_id(problems) -> None:
    """Two zones with the same id are reported on the hall's zones."""
    lines = problems(
        edit('id = "project"\nname = "工程建筑区"', 'id = "social"\nname = "工程建筑区"')
    )
    assert_problem(lines, "halls.jinjiang.zones", 'id "social" is used by 2 zone', "own id")


def test_duplicate_service_code(problems) -> None:
    """Two services with the same code are reported on ``services``."""
    lines = problems(BASE + SERVICES)
    assert_problem(lines, "services", 'code "S01" is used by 2 service', "its own code")


def test_window_unknown_queue(problems) -> None:
    """A window serving a misspelt queue gets the documented line, with a suggestion."""
    lines = problems(edit('queues = ["social", "project"]', 'queues = ["socail", "project"]'))
    line = assert_problem(lines, "halls.jinjiang.windows.3.queues", 'unknown queue "socail"')
    assert line == (
        'config.toml: halls.jinjiang.windows.3.queues: unknown queue "socail"; expected one of '
        'social, project. Fix: correct the id (did you mean "social"?) or add a '
        '[[halls.queues]] with id = "socail".'
    )


def test_window_unknown_zone(problems) -> None:
    """A window in a zone the hall does not have is reported with the zones it has."""
    lines = problems(
        edit('zone = "project"\nqueues = ["project"]', 'zone = "pickup"\nqueues = ["project"]')
    )
    assert_problem(
        lines,
        "halls.jinjiang.windows.7.zone",
        'unknown zone "pickup"',
        "social, project",
        'add a [[halls.zones]] with id = "pickup"',
    )


def test_queue_unknown_zone(problems) -> None:
    """A queue in an unknown zone is reported on the queue's zone key."""
    lines = problems(
        edit(
            'prefix = "A"\nname = "社会事务"\nname_en = "Public services"\nzone = "social"',
            'prefix = "A"\nname = "社会事务"\nname_en = "Public services"\nzone = "socal"',
        )
    )
    assert_problem(lines, "halls.jinjiang.queues.social.zone", 'unknown zone "socal"', '"social"')


def test_service_queue_in_no_hall(problems) -> None:
    """A service whose queue no hall has is reported with every known queue."""
    lines = problems(edit('queue = "social"', 'queue = "estate"'))
    assert_problem(lines, "services.S01.queue", 'unknown queue "estate"', "social, project")


def test_bad_timezone(problems) -> None:
    """A misspelt time zone is reported with the closest IANA name."""
    lines = problems(edit('"Asia/Shanghai"', '"Asia/Shangai"'))
    assert_problem(lines, "halls.jinjiang.timezone", '"Asia/Shangai"', 'use "Asia/Shanghai"')


def test_bad_session_text(problems) -> None:
    """A session without two-digit hours is reported with the expected format."""
    lines = problems(edit('"08:30-12:00"', '"8:30-12:00"'))
    assert_problem(lines, "halls.jinjiang.hours.sessions[0]", '"8:30-12:00"', '"08:30-12:00"')


def test_session_ends_before_start(problems) -> None:
    """A session whose end is not after its start is refused."""
    lines = problems(edit('"14:30-17:30"', '"17:30-14:30"'))
    assert_problem(lines, "halls.jinjiang.hours.sessions[1]", "ends at or before", "later")


def test_bad_weekday(problems) -> None:
    """Weekdays are ISO 1-7."""
    lines = problems(edit("days = [1, 2, 3, 4, 5]", "days = [0, 1, 2]"))
    assert_problem(lines, "halls.jinjiang.hours.days", "0 is not an ISO weekday", "use 1-7")


def test_stop_issuing_outside_hours(problems) -> None:
    """Stop-issuing after closing is refused with the hall's sessions named."""
    lines = problems(edit('stop_issuing = "17:00"', 'stop_issuing = "18:30"'))
    assert_problem(
        lines,
        "halls.jinjiang.queues.social.stop_issuing",
        '"18:30" is outside',
        '"14:30-17:30"',
        "inside a session",
    )


def test_stop_issuing_not_a_time(problems) -> None:
    """Stop-issuing must be HH:MM."""
    lines = problems(edit('stop_issuing = "17:00"', 'stop_issuing = "5pm"'))
    assert_problem(lines, "halls.jinjiang.queues.social.stop_issuing", '"5pm"', '"17:00"')


def test_lanes_without_normal(problems) -> None:
    """Without a ``normal`` lane the config is refused."""
    lines = problems(edit('id = "normal"', 'id = "standard"'))
    assert_problem(lines, "lanes", 'no lane with id = "normal"', 'id = "normal", rank = 0')


def test_normal_rank_not_zero(problems) -> None:
    """The normal lane must have rank 0."""
    lines = problems(edit("rank = 0", "rank = 1"))
    assert_problem(lines, "lanes.normal.rank", "rank 1", "set rank = 0")


def test_priority_rank_zero(problems) -> None:
    """A priority lane may not take rank 0."""
    lines = problems(edit("rank = 2", "rank = 0"))
    assert_problem(lines, "lanes.elderly.rank", '"elderly" has rank 0', "rank = 1 or more")


def test_unknown_role(problems) -> None:
    """An unknown role in issued_by is named with the closest role."""
    text = edit('rank = 2\nissued_by = ["kiosk", "guide"]', 'rank = 2\nissued_by = ["kisok"]')
    lines = problems(text)
    assert_problem(lines, "lanes.elderly.issued_by[0]", '"kisok" is not allowed', 'use "kiosk"')


def test_interleave_below_one(problems) -> None:
    """``interleave`` must be at least 1 under the interleave policy."""
    lines = problems(edit("interleave = 2", "interleave = 0"))
    assert_problem(
        lines, "halls.jinjiang.queues.social.interleave", "0 priority calls", "= 1 or more"
    )


def test_interleave_ignored_when_strict(problems) -> None:
    """Under ``strict`` the interleave count is not used, so 0 is accepted."""
    text = edit('policy = "interleave"\ninterleave = 2', 'policy = "strict"\ninterleave = 0')
    assert problems(text) == []


def test_daily_cap_below_one(problems) -> None:
    """A daily cap of 0 is out of range (leave it out for no cap)."""
    lines = problems(edit("daily_cap = 300", "daily_cap = 0"))
    assert_problem(
        lines, "halls.jinjiang.queues.social.daily_cap", "0 is out of range", "1 or more"
    )


def test_window_mode(problems) -> None:
    """A window mode other than fifo/ordered is refused with the closest mode."""
    lines = problems(edit('mode = "fifo"', 'mode = "lifo"'))
    assert_problem(lines, "halls.jinjiang.windows.3.mode", '"lifo"', "fifo, ordered", 'use "fifo"')


def test_no_halls(problems) -> None:
    """A config without any hall is refused."""
    lines = problems(SERVER + LANES)
    assert_problem(lines, "halls", "no hall is configured", "[[halls]]")


@pytest.mark.parametrize("prefix", ["a", "ABC", "A1", ""])
def test_bad_prefix(problems, prefix: str) -> None:
    """A prefix must be one or two uppercase letters."""
    lines = problems(edit('prefix = "A"', f'prefix = "{prefix}"'))
    assert_problem(lines, "halls.jinjiang.queues.social.prefix", f'"{prefix}" is not 1-2', '"A"')


def test_queue_served_by_no_window(problems) -> None:
    """A queue no window serves would never be called and is refused."""
    lines = problems(BASE + QUEUE)
    assert_problem(lines, "halls.jinjiang.queues.market", 'no window serves queue "market"', "add")


def test_unknown_lane_override(problems) -> None:
    """A hall-level lane override must name a global lane."""
    text = edit("[halls.hours]", '[halls.lanes.militray]\nissued_by = ["guide"]\n\n[halls.hours]')
    lines = problems(text)
    assert_problem(lines, "halls.jinjiang.lanes.militray", 'unknown lane "militray"', "[[lanes]]")


def test_announce_template_placeholder(problems) -> None:
    """A voice template with an unknown placeholder is refused."""
    lines = problems(BASE + '\n[announce]\ncall = "请{ticket}号到{window}号窗口"\n')
    assert_problem(lines, "announce.call", "unknown placeholder {ticket}", "{number}")


def test_server_urls_and_secret(problems) -> None:
    """Server URLs need a supported scheme and a secret key needs 32 characters."""
    text = edit("port = 8080", 'port = 8080\ndatabase_url = "mysql://x"\nsecret_key = "short"')
    lines = problems(text)
    assert_problem(lines, "server.database_url", '"mysql://x"', "postgresql+asyncpg://")
    assert_problem(lines, "server.secret_key", "5 characters", "HALLQ_SECRET_KEY")


def test_workers_need_redis(problems) -> None:
    """Several workers cannot share the in-process memory broadcast."""
    lines = problems(edit("port = 8080", "port = 8080\nworkers = 4"))
    assert_problem(lines, "server.workers", "memory://", 'broadcast_url = "redis://')


def test_table_instead_of_array(problems) -> None:
    """``[halls.windows]`` written for ``[[halls.windows]]`` gets the double-bracket fix."""
    lines = problems(SERVER + LANES + '\n[halls]\nid = "x"\n')
    assert_problem(lines, "halls", "expected an array of tables", "double brackets")


def test_syntax_error_position(problems) -> None:
    """A TOML syntax error is reported with its line and column."""
    lines = problems(edit("port = 8080", "port = 80 80"))
    assert lines == [
        "config.toml: line 3, column 11: TOML syntax error: Expected newline or end of document "
        'after a statement. Fix: correct the TOML there: strings in "quotes", one key per line, '
        "[[halls]] for lists."
    ]


def test_missing_file(tmp_path: Path) -> None:
    """A missing file is one problem giving the absolute path and how to point at a config."""
    lines = check_config(tmp_path / "nope.toml")
    assert lines == [
        f"nope.toml: file not found at {tmp_path / 'nope.toml'}. Fix: pass --config PATH or set "
        "HALLQ_CONFIG, or start from the repository's config.toml."
    ]


def test_every_problem_at_once(problems, tmp_path: Path) -> None:
    """Type errors and cross-reference errors in different places are all listed together."""
    text = edit("port = 8080", 'port = "x"')
    text = edit('mode = "fifo"', 'mode = "lifo"', text)
    text = edit('"Asia/Shanghai"', '"Mars/Base"', text)
    text = edit('queue = "social"', 'queue = "nowhere"', text)
    lines = problems(text)
    assert len(lines) == 4
    for path in ("server.port", "halls.jinjiang.windows.3.mode", "halls.jinjiang.timezone"):
        assert_problem(lines, path)
    assert_problem(lines, "services.S01.queue", '"nowhere"')
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "config.toml")
    assert caught.value.problems == lines


def test_dropped_item_is_still_known(problems) -> None:
    """A queue with a type error is reported once, not again as unknown on its windows."""
    lines = problems(edit("daily_cap = 300", 'daily_cap = "300"'))
    assert lines == [
        "config.toml: halls.jinjiang.queues.social.daily_cap: expected a whole number, got "
        '"300". Fix: remove the quotes: daily_cap = 300.'
    ]


def test_toml_local_time_accepted(problems, tmp_path: Path) -> None:
    """A TOML local time (17:00:00) is as good as the string "17:00"."""
    assert problems(edit('stop_issuing = "17:00"', "stop_issuing = 17:00:00")) == []
    queue = load_config(tmp_path / "config.toml").hall("jinjiang").queue("social")
    assert str(queue.stop_issuing) == "17:00:00"


def test_overlapping_sessions(problems) -> None:
    """Sessions must be in time order without overlap."""
    lines = problems(edit('"14:30-17:30"', '"11:30-17:30"'))
    assert_problem(lines, "halls.jinjiang.hours.sessions", '"08:30-12:00" then "11:30-17:30"')


def test_global_hours_problem_named_at_top_level(problems) -> None:
    """A bad default in [hours] is reported once, at its own key, not per hall."""
    text = edit("[halls.hours]\ndays = [1, 2, 3, 4, 5]\n", "[halls.hours]\n")
    text = edit("[server]", "[hours]\ndays = [1, 8]\n\n[server]", text)
    second = HALL.replace('id = "jinjiang"', 'id = "laocheng-1"').replace(
        "days = [1, 2, 3, 4, 5]\n", ""
    )
    lines = problems(text + second)
    assert [line for line in lines if "hours" in line] == [
        "config.toml: hours.days: 8 is not an ISO weekday; expected 1 (Monday) to 7 (Sunday). "
        "Fix: use 1-7, e.g. days = [1, 2, 3, 4, 5] for Monday to Friday."
    ]
