"""The voice HTTP surface on SQLite and PostgreSQL: a zone's announcements in seq order, who may
read them, which screen speaks, and the announcement audio."""

from __future__ import annotations

import wave
from datetime import timedelta
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest

from server.services import auth
from server.voice.cache import AudioCache
from server.voice.speech import Speech
from tests.conftest import Hall
from tests.server.support import assert_error

FEED = "/halls/jinjiang/zones/{zone}/announcements"


@pytest.fixture(autouse=True)
def _private_cache(hall: Hall, tmp_path: Path) -> None:
    """Rendered audio goes to this test's folder, not the shared temp dir."""
    speech = Speech(hall.config, cache=AudioCache(tmp_path / "voice", 8 * 1024 * 1024))
    hall.app.state.hallq_speech = speech


async def feed(hall: Hall, zone: str = "social", who: str = "display", **query: Any) -> Any:
    r = await hall.client.get(
        "/api/v1" + FEED.format(zone=zone), params=query, headers=hall.auth(who)
    )
    assert r.status_code == 200, r.text
    return r.json()


async def test_zone_announcements_in_seq_order(hall: Hall) -> None:
    """Calls and recalls of the zone's windows come back in seq order, other zones left out."""
    start = (await feed(hall))["seq"]
    for _ in range(4):
        await hall.issue("social")
    await hall.issue("project")
    await hall.call_next("1")
    await hall.call_next("7")  # project zone
    await hall.call_next("2")
    hall.clock.advance(30)  # past the recall cooldown
    r = await hall.post("/halls/jinjiang/windows/1/recall", "w1")
    assert r.status_code == 200, r.text
    body = await feed(hall, after=start)
    items = body["announcements"]
    assert [(a["kind"], a["number"], a["window"]) for a in items] == [
        ("call", "A001", 1),
        ("call", "A002", 2),
        ("recall", "A001", 1),
    ]
    seqs = [a["seq"] for a in items]
    assert seqs == sorted(seqs) and len(set(seqs)) == 3
    assert items[0]["zh"] == "请A零零一号，到一号窗口办理。"
    assert items[2]["zh"] == "A零零一号，请到一号窗口办理。"
    assert items[0]["repeat"] == 2 and items[0]["chime"] == "/api/v1/announcements/chime.wav"
    assert items[0]["audio"].startswith("/api/v1/announcements/jinjiang.call.zh.A001.1.")
    later = await feed(hall, after=seqs[0])
    assert [a["seq"] for a in later["announcements"]] == seqs[1:]
    project = await feed(hall, zone="project", after=start)
    assert [a["number"] for a in project["announcements"]] == ["B001"]


async def test_no_after_starts_at_the_current_seq(hall: Hall) -> None:
    """A screen without a marker gets no old calls, only the seq to continue from."""
    await hall.issue("social")
    await hall.call_next("1")
    body = await feed(hall)
    assert body["announcements"] == [] and body["seq"] >= 2 and body["more"] is False


async def test_max_age_skips_old_calls(hall: Hall) -> None:
    """``max_age_s`` leaves out calls older than that (a screen never speaks stale calls)."""
    await hall.issue("social")
    await hall.issue("social")
    await hall.call_next("1")
    hall.clock.set(hall.clock.now() + timedelta(minutes=5))
    await hall.call_next("2")
    body = await feed(hall, after=0, max_age_s=120)
    assert [a["number"] for a in body["announcements"]] == ["A002"]


async def test_feed_auth(hall: Hall) -> None:
    """Display devices and managers of the hall may read; others are refused by name."""
    path = "/api/v1" + FEED.format(zone="social")
    assert (await hall.client.get(path)).status_code == 401
    assert_error(await hall.client.get(path, headers=hall.auth("kiosk")), 403, "forbidden")
    assert_error(await hall.client.get(path, headers=hall.auth("w1")), 403, "forbidden")
    r = await hall.client.get(
        "/api/v1/halls/laocheng-1/zones/comprehensive/announcements", headers=hall.auth("display")
    )
    assert r.status_code in (403, 404), r.text
    assert (await hall.client.get(path, headers=hall.auth("manager"))).status_code == 200
    bad = await hall.client.get(path + "?after=-1", headers=hall.auth("display"))
    assert_error(bad, 400, "validation_error")
    unknown = await hall.client.get(
        "/api/v1" + FEED.format(zone="nowhere"), headers=hall.auth("display")
    )
    assert_error(unknown, 404, "zone_not_found")


async def _display(
    hall: Hall, name: str, zone: str | None = None, window: str | None = None
) -> str:
    hall.clock.advance(1)  # "first enrolled" needs distinct enrolment times
    async with hall.db.write() as conn:
        d = await auth.add_device(
            conn,
            hall="jinjiang",
            role="display",
            name=name,
            window=window,
            zone=zone,
            now=hall.clock.now(),
        )
    hall.tokens[name] = d.token
    return d.id


async def test_one_speaker_per_zone(hall: Hall) -> None:
    """First a zone's own screen, else the first zone-less one; window screens never speak."""
    me = (await hall.get("/auth/me", "display")).json()
    await _display(hall, "3号窗口屏", window="3")
    assert (await feed(hall))["speaker"] == me["id"]  # zone-less, enrolled first
    social = await _display(hall, "社会事务区综合屏", zone="social")
    await _display(hall, "社会事务区副屏", zone="social")
    assert (await feed(hall))["speaker"] == social
    assert (await feed(hall, zone="project"))["speaker"] == me["id"]
    async with hall.db.write() as conn:
        await auth.revoke_device(conn, social, hall.clock.now())
    second = (await feed(hall))["speaker"]
    assert second not in (social, me["id"])


async def test_audio_is_a_wav(hall: Hall) -> None:
    """The event's audio URL serves a WAV of the sentence; no credential is needed."""
    await hall.issue("social")
    await hall.call_next("3")
    item = (await feed(hall, after=0))["announcements"][0]
    r = await hall.client.get(item["audio"])
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "audio/wav"
    with wave.open(BytesIO(r.content)) as w:
        assert w.getnframes() / w.getframerate() > 0.5
    chime = await hall.client.get(item["chime"])
    assert chime.status_code == 200 and chime.content[:4] == b"RIFF"


@pytest.mark.parametrize(
    "audio_id",
    [
        "jinjiang.call.zh.A001.99.000000000000",  # no window 99
        "jinjiang.call.zh.Q001.1.000000000000",  # no queue with prefix Q
        "jinjiang.call.zh.A001.1.000000000000",  # stale fingerprint
        "nowhere.call.zh.A001.1.000000000000",  # no such hall
        "..%2F..%2Fetc%2Fpasswd",
        "chime2",
    ],
)
async def test_unknown_audio_is_404(hall: Hall, audio_id: str) -> None:
    """Ids the config would never announce are refused before anything is rendered."""
    r = await hall.client.get(f"/api/v1/announcements/{audio_id}.wav")
    assert r.status_code == 404, r.text
