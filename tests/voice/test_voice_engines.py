"""Speech engines against real things: espeak-ng renders Chinese, the cache spares the engine,
clips join into one WAV, and every failure is a clear RenderFailed."""

from __future__ import annotations

import stat
import wave
from io import BytesIO
from pathlib import Path

import pytest

from server.voice.cache import AudioCache, cache_key
from server.voice.chime import chime_wav
from server.voice.clips import PAUSE, PAUSE_S, ClipsEngine, phrase_table
from server.voice.engine import RenderFailed, Utterance
from server.voice.espeak import EspeakEngine
from server.voice.speech import Speech
from server.voice.wavs import WavFormat, duration, silence, write_wav
from tests.conftest import ROOT

ZH_TEMPLATE = "请{number}号，到{window}窗口办理。"
ZH = Utterance("zh", "请A零零一号，到三号窗口办理。", ZH_TEMPLATE, "A001", 3)
EN = Utterance("en", "Number A zero zero one, please go to window three.", "", "A001", 3)
FMT = WavFormat(channels=1, sample_width=2, rate=8000)


def espeak() -> EspeakEngine:
    return EspeakEngine({"zh": "cmn", "en": "en"}, 150)


async def test_espeak_renders_chinese() -> None:
    """A Chinese call becomes a WAV of more than half a second."""
    data = await espeak().render(ZH)
    with wave.open(BytesIO(data)) as w:
        assert w.getnchannels() == 1 and w.getsampwidth() == 2
        assert w.getnframes() / w.getframerate() > 0.5


async def test_espeak_renders_english() -> None:
    """The English sentence renders with the English voice."""
    assert duration(await espeak().render(EN)) > 0.5


async def test_espeak_missing_binary(tmp_path: Path) -> None:
    """Without espeak-ng the error says to install it or use the browser engine."""
    engine = EspeakEngine({"zh": "cmn", "en": "en"}, 150, binary=str(tmp_path / "nope"))
    with pytest.raises(RenderFailed) as caught:
        await engine.render(ZH)
    assert caught.value.status == 503 and "espeak-ng" in caught.value.message_en
    assert 'engine = "browser"' in caught.value.message_en


async def test_espeak_timeout_kills(tmp_path: Path) -> None:
    """A hung engine is stopped after its timeout and reported."""
    hang = tmp_path / "hang"
    hang.write_text("#!/bin/sh\nexec sleep 30\n")
    hang.chmod(hang.stat().st_mode | stat.S_IEXEC)
    engine = EspeakEngine({"zh": "cmn", "en": "en"}, 150, binary=str(hang), timeout_s=0.3)
    with pytest.raises(RenderFailed, match=r"within 0\.3 s"):
        await engine.render(ZH)


class Counting:
    """An engine wrapper that counts renders."""

    def __init__(self) -> None:
        self.inner = espeak()
        self.renders = 0
        self.name = self.inner.name
        self.languages = self.inner.languages

    def fingerprint(self) -> str:
        return self.inner.fingerprint()

    async def render(self, utterance: Utterance) -> bytes:
        self.renders += 1
        return await self.inner.render(utterance)


async def test_cache_hit_does_not_render_again(tmp_path: Path) -> None:
    """The second request for a sentence is served from disk, even by a new Speech."""
    from server.config import load_config

    config = load_config(ROOT / "config.toml")
    engine = Counting()
    cache = AudioCache(tmp_path, 1024 * 1024)
    first = await Speech(config, cache=cache).render(engine, ZH)
    again = await Speech(config, cache=AudioCache(tmp_path, 1024 * 1024)).render(engine, ZH)
    assert engine.renders == 1 and first == again
    await Speech(config, cache=cache).render(engine, EN)
    assert engine.renders == 2


def test_cache_is_bounded(tmp_path: Path) -> None:
    """Past its limit the cache drops the least recently used files."""
    cache = AudioCache(tmp_path, 2500)
    for i in range(5):
        cache.put(cache_key(str(i)), bytes(1000))
    kept = [i for i in range(5) if cache.get(cache_key(str(i))) is not None]
    assert kept == [3, 4]


def clip(folder: Path, token: str, seconds: float, fmt: WavFormat = FMT) -> None:
    frames = b"\x10\x00" * fmt.channels * round(fmt.rate * seconds)
    (folder / f"{token}.wav").write_bytes(write_wav(fmt, frames))


async def test_clips_join_to_the_summed_duration(tmp_path: Path) -> None:
    """Joined clips last as long as the clips plus the pause at the comma."""
    needed = ["qing", "A", "0", "1", "hao", "dao", "3", "chuangkou_banli"]
    for i, token in enumerate(needed):
        clip(tmp_path, token, 0.1 + 0.01 * i)
    engine = ClipsEngine(tmp_path, phrase_table({}))
    data = await engine.render(ZH)
    order = ["qing", "A", "0", "0", "1", "hao", PAUSE, "dao", "3", "hao", "chuangkou_banli"]
    expected = sum(PAUSE_S if t == PAUSE else 0.1 + 0.01 * needed.index(t) for t in order)
    assert duration(data) == pytest.approx(expected, abs=0.002)


async def test_missing_clip_is_named(tmp_path: Path) -> None:
    """A missing clip fails the render with its file name."""
    for token in ["qing", "A", "0", "1", "hao", "dao", "chuangkou_banli"]:
        clip(tmp_path, token, 0.1)
    with pytest.raises(RenderFailed, match=r"3\.wav"):
        await ClipsEngine(tmp_path, phrase_table({})).render(ZH)


async def test_clips_of_another_format(tmp_path: Path) -> None:
    """Clips recorded at another rate are refused rather than joined into noise."""
    for token in ["qing", "A", "0", "1", "hao", "dao", "3", "chuangkou_banli"]:
        clip(tmp_path, token, 0.1)
    clip(tmp_path, "dao", 0.1, WavFormat(1, 2, 16000))
    with pytest.raises(RenderFailed, match=r"dao\.wav"):
        await ClipsEngine(tmp_path, phrase_table({})).render(ZH)


def test_chime_is_short_and_not_silent() -> None:
    """The chime is a WAV of about a second with sound in it."""
    data = chime_wav()
    assert 0.8 < duration(data) < 2.0
    with wave.open(BytesIO(data)) as w:
        frames = w.readframes(w.getnframes())
    assert frames != silence(WavFormat(1, 2, w.getframerate()), duration(data))
    assert max(frames[1::2]) > 0x10  # loud enough somewhere (high bytes of samples)
