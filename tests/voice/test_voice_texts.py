"""What a call says, as the event's announce block carries it: numbers digit by digit, windows
as numerals, templates, audio URLs, and the clip tokens of the same sentence."""

from __future__ import annotations

from dataclasses import replace

import pytest

from server.config import AppConfig, load_config
from server.config.model import VoiceConfig
from server.voice.announcements import CHIME_URL, parse_audio_id, resolve, voice_block
from server.voice.clips import PAUSE, UnknownPhrase, phrase_table, sentence_tokens
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def config() -> AppConfig:
    return load_config(ROOT / "config.toml")


@pytest.mark.parametrize(
    ("number", "window", "zh_number", "zh_window", "en_number", "en_window"),
    [
        ("A001", 3, "A零零一", "三号", "A zero zero one", "three"),
        ("B120", 10, "B一二零", "十号", "B one two zero", "ten"),
        ("C007", 11, "C零零七", "十一号", "C zero zero seven", "eleven"),
        ("A100", 20, "A一零零", "二十号", "A one zero zero", "twenty"),
        ("G010", 21, "G零一零", "二十一号", "G zero one zero", "twenty-one"),
    ],
)
def test_call_texts(
    config: AppConfig,
    number: str,
    window: int,
    zh_number: str,
    zh_window: str,
    en_number: str,
    en_window: str,
) -> None:
    """Numbers are read digit by digit and windows as numerals, in Chinese and English."""
    block = voice_block(config.hall("jinjiang"), "call", number, window)
    assert block["zh"] == f"请{zh_number}号，到{zh_window}窗口办理。"
    assert block["en"] == f"Number {en_number}, please go to window {en_window}."


def test_block_shape(config: AppConfig) -> None:
    """Kind, both texts, both audio URLs, the chime and the repeat count from the config."""
    hall = config.hall("jinjiang")
    block = voice_block(hall, "recall", "A001", 3)
    assert block["kind"] == "recall" and block["zh"] == "A零零一号，请到三号窗口办理。"
    assert block["repeat"] == 2 and block["chime"] == CHIME_URL
    for key, lang in (("audio", "zh"), ("audio_en", "en")):
        ref = parse_audio_id(block[key].rsplit("/", 1)[1].removesuffix(".wav"))
        assert ref is not None and (ref.kind, ref.lang, ref.number, ref.window) == (
            "recall",
            lang,
            "A001",
            3,
        )
        utterance = resolve(hall, ref)
        assert utterance is not None and utterance.text == block["zh" if lang == "zh" else "en"]


def test_engine_and_english_decide_the_audio(config: AppConfig) -> None:
    """No server audio with engine browser; no English with english = false; no chime off."""
    hall = config.hall("jinjiang")
    browser = replace(hall, voice=VoiceConfig(engine="browser", chime=False))
    block = voice_block(browser, "call", "A001", 3)
    assert (block["audio"], block["audio_en"], block["chime"]) == (None, None, None)
    assert block["zh"] == "请A零零一号，到三号窗口办理。"
    quiet = replace(hall, announce=replace(hall.announce, english=False, repeat=3))
    block = voice_block(quiet, "call", "A001", 3)
    assert block["en"] is None and block["audio_en"] is None and block["repeat"] == 3
    clips = replace(hall, voice=VoiceConfig(engine="clips"))
    block = voice_block(clips, "call", "A001", 3)
    assert block["audio"] is not None and block["audio_en"] is None


def test_template_change_makes_old_urls_stale(config: AppConfig) -> None:
    """An audio id made under another template no longer resolves (it would say other words)."""
    hall = config.hall("jinjiang")
    url = voice_block(hall, "call", "A001", 3)["audio"]
    ref = parse_audio_id(url.rsplit("/", 1)[1].removesuffix(".wav"))
    assert ref is not None and resolve(hall, ref) is not None
    changed = replace(hall, announce=replace(hall.announce, call="{number}号请到{window}窗口。"))
    assert resolve(changed, ref) is None


@pytest.mark.parametrize(
    ("template", "number", "window", "tokens"),
    [
        ("请{number}号，到{window}窗口办理。", "A001", 3,
         ["qing", "A", "0", "0", "1", "hao", PAUSE, "dao", "3", "hao", "chuangkou_banli"]),
        ("{number}号，请到{window}窗口办理。", "B120", 12,
         ["B", "1", "2", "0", "hao", PAUSE, "qing_dao", "shi", "2", "hao", "chuangkou_banli"]),
        ("请{number}号，到{window}窗口继续办理。", "C007", 20,
         ["qing", "C", "0", "0", "7", "hao", PAUSE, "dao", "2", "shi", "hao",
          "chuangkou_jixu_banli"]),
        ("，请{number}号到{window}窗口。。", "A001", 101,
         ["qing", "A", "0", "0", "1", "hao", "dao", "1", "bai", "0", "1", "hao", "chuangkou"]),
    ],
)  # fmt: skip
def test_clip_tokens(template: str, number: str, window: int, tokens: list[str]) -> None:
    """Clips: number characters, window numerals, longest phrases, one pause per punctuation."""
    assert sentence_tokens(template, number, window, phrase_table({})) == tokens


def test_unknown_words_name_themselves() -> None:
    """Template words without a clip are reported, and clips_phrases adds them."""
    with pytest.raises(UnknownPhrase) as caught:
        sentence_tokens("请{number}号到{window}窗口领取。", "A001", 3, phrase_table({}))
    assert caught.value.text == "领取"
    phrases = phrase_table({"窗口领取": "chuangkou_lingqu"})
    tokens = sentence_tokens("请{number}号到{window}窗口领取。", "A001", 3, phrases)
    assert tokens[-1] == "chuangkou_lingqu"
