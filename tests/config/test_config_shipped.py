"""The shipped config.toml: Chengmai's three halls load cleanly with the expected structure."""

from __future__ import annotations

from datetime import time
from pathlib import Path

import pytest

from server.config import AppConfig, check_config, load_config
from server.domain.errors import NotFound

SHIPPED = Path(__file__).resolve().parents[2] / "config.toml"
CATEGORIES = {"market", "project", "social", "estate"}


@pytest.fixture(scope="module")
def config() -> AppConfig:
    """The repository's config.toml, loaded once."""
    return load_config(SHIPPED)


def test_shipped_config_has_no_problem() -> None:
    """check-config finds nothing wrong in the shipped config.toml."""
    assert check_config(SHIPPED) == []


def test_three_halls(config: AppConfig) -> None:
    """The halls are Chengmai's three sites, in file order, in Asia/Shanghai."""
    assert list(config.halls) == ["jinjiang", "laocheng-1", "laocheng-2"]
    for hall in config.halls.values():
        assert hall.org_name == "澄迈县政务服务中心"
        assert str(hall.tz) == hall.timezone == "Asia/Shanghai"
        assert hall.hours.sessions == ((time(8, 30), time(12)), (time(14, 30), time(17, 30)))
        assert hall.hours.days == frozenset({1, 2, 3, 4, 5})


def test_jinjiang_zones_and_windows(config: AppConfig) -> None:
    """Jinjiang has 6 windows in each of three zones plus one guide desk and one pickup window."""
    hall = config.hall("jinjiang")
    by_zone = {zone: [w.id for w in hall.windows.values() if w.zone == zone] for zone in hall.zones}
    assert {zone: len(ids) for zone, ids in by_zone.items()} == {
        "social": 6,
        "project": 6,
        "enterprise": 6,
        "guide": 1,
        "pickup": 1,
    }
    assert [q.prefix for q in hall.queues.values()] == ["A", "B", "C", "G", "P"]
    assert hall.window("G1").kind == "guide" and hall.window("P1").kind == "pickup"
    assert hall.zone("social").location == "一楼 社会事务区（1-6号窗口）"


def test_laocheng_comprehensive_windows(config: AppConfig) -> None:
    """Laocheng area 1's four comprehensive windows serve every category queue in fifo."""
    hall = config.hall("laocheng-1")
    service = [w for w in hall.windows.values() if w.kind == "service"]
    assert len(service) == 4
    assert all(set(w.queues) == CATEGORIES and w.mode == "fifo" for w in service)
    assert [w.kind for w in hall.windows.values()].count("guide") == 1
    assert len(config.hall("laocheng-2").windows) == 2


def test_lanes_and_ranks(config: AppConfig) -> None:
    """Normal has rank 0; military comes first; kiosks may issue only normal and elderly."""
    ranks = {lane.id: lane.rank for lane in config.lanes.values()}
    assert ranks["normal"] == 0 and ranks["military"] == 1
    assert min(r for lane, r in ranks.items() if lane != "military" and lane != "normal") > 1
    kiosk = {lane.id for lane in config.lanes.values() if "kiosk" in lane.issued_by}
    assert kiosk == {"normal", "elderly"}


def test_hall_lane_override(config: AppConfig) -> None:
    """Laocheng area 2 (no guide desk) lets its manager issue military tickets; others don't."""
    assert "manager" in config.hall("laocheng-2").lane("military").issued_by
    assert config.hall("jinjiang").lane("military").issued_by == frozenset({"guide"})


def test_services_follow_queues(config: AppConfig) -> None:
    """About 20 services; a hall offers exactly the services whose queue it has."""
    codes = {code for hall in config.halls.values() for code in hall.services}
    assert 20 <= len(codes) <= 30
    for hall in config.halls.values():
        assert all(s.queue in hall.queues for s in hall.services.values())
    assert "E01" not in config.hall("jinjiang").services
    assert "E01" in config.hall("laocheng-1").services
    assert config.hall("jinjiang").service("M04").materials[0] == "食品经营许可申请书"


def test_rules_merge(config: AppConfig) -> None:
    """Hall rules override the [rules] defaults key by key."""
    assert config.hall("jinjiang").rules.requeue_after == 3
    assert config.hall("laocheng-2").rules.requeue_after == 2
    assert config.hall("laocheng-2").rules.recall_limit == 2


def test_queue_limits_and_policy(config: AppConfig) -> None:
    """Queues carry their cap, stop-issuing time and policy as domain values."""
    queue = config.hall("jinjiang").queue("social")
    assert (queue.daily_cap, queue.stop_issuing) == (300, time(17))
    assert (queue.policy.mode, queue.policy.interleave, queue.policy.normal_max_wait_s) == (
        "interleave",
        2,
        1800,
    )
    assert config.hall("jinjiang").queue("guide").daily_cap is None


def test_announce_and_ticket_texts(config: AppConfig) -> None:
    """Voice templates match the domain's wording; tickets carry three reminder lines."""
    hall = config.hall("jinjiang")
    assert hall.announce.templates("call") == (
        "请{number}号，到{window}窗口办理。",
        "Number {number}, please go to window {window}.",
    )
    assert (hall.announce.repeat, hall.announce.english) == (2, True)
    assert hall.ticket_texts.reminders[1] == "过号请到导办台登记，当日有效。"


def test_templates_fit_domain_announce(config: AppConfig) -> None:
    """The shipped templates, filled by the domain's announce(), give domain.md's wording."""
    domain = pytest.importorskip("server.domain.announce")
    zh, en = config.hall("jinjiang").announce.templates("call")
    texts = domain.announce("call", "A001", 3, zh_template=zh, en_template=en)
    assert texts == {
        "zh": "请A零零一号，到三号窗口办理。",
        "en": "Number A zero zero one, please go to window three.",
    }


def test_server_defaults(config: AppConfig) -> None:
    """The shipped [server] is the embedded default: SQLite, memory broadcast, no secret."""
    assert config.server.database_url == "sqlite+aiosqlite:///hallq.db"
    assert config.server.broadcast_url == "memory://"
    assert config.server.secret_key is None
    assert config.path == SHIPPED


def test_unknown_hall(config: AppConfig) -> None:
    """Looking up an unknown hall raises the contract's 404 hall_not_found."""
    with pytest.raises(NotFound) as caught:
        config.hall("haikou")
    assert caught.value.code == "hall_not_found"
    assert caught.value.details == {"hall": "haikou"}
    assert "大厅" in caught.value.message


def test_unknown_window(config: AppConfig) -> None:
    """Looking up an unknown window of a hall raises 404 window_not_found."""
    with pytest.raises(NotFound) as caught:
        config.hall("jinjiang").window("99")
    assert caught.value.code == "window_not_found"
