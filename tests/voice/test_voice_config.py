"""``[voice]`` and ``[halls.voice]``: layering, and every mistake named by file, key and fix."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from server.config import check_config, load_config
from server.voice.wavs import WavFormat, write_wav
from tests.conftest import ROOT

SHIPPED = (ROOT / "config.toml").read_text(encoding="utf-8")
LAST = "halls.laocheng-2"  # a table appended to the file belongs to the last [[halls]]
# What laocheng-2 (prefixes A C D, windows 1 and 2) needs with the default templates.
NEEDED = [
    *"ACD0123456789",
    "qing",
    "hao",
    "dao",
    "qing_dao",
    "chuangkou_banli",
    "chuangkou_jixu_banli",
]
Check = Callable[[str], list[str]]


@pytest.fixture
def check(tmp_path: Path) -> Check:
    def run(extra: str) -> list[str]:
        path = tmp_path / "config.toml"
        path.write_text(SHIPPED + extra, encoding="utf-8")
        return check_config(path)

    return run


def one(lines: list[str], path: str, *fragments: str) -> str:
    found = [
        line
        for line in lines
        if line.startswith(f"config.toml: {path}: ")
        and "Fix: " in line
        and all(f in line for f in fragments)
    ]
    assert len(found) == 1, f"no single line {path} {fragments} in:\n" + "\n".join(lines)
    return found[0]


def record(folder: Path, tokens: list[str], rate: int = 8000) -> None:
    folder.mkdir(exist_ok=True)
    for token in tokens:
        (folder / f"{token}.wav").write_bytes(write_wav(WavFormat(1, 2, rate), b"\0\0" * 80))


def test_layering(tmp_path: Path) -> None:
    """[voice] sets every hall's default; [halls.voice] overrides it for one hall."""
    path = tmp_path / "config.toml"
    text = re.sub(r'(?m)^engine = "espeak-ng".*$', 'engine = "browser"', SHIPPED, count=1)
    text = re.sub(r"(?m)^cache_mb = .*$", "cache_mb = 16", text, count=1)
    path.write_text(text + '\n[halls.voice]\nengine = "espeak-ng"\nchime = false\n', "utf-8")
    config = load_config(path)
    assert config.hall("jinjiang").voice.engine == "browser"
    assert config.hall("jinjiang").voice.chime is True
    assert (config.hall("laocheng-2").voice.engine, config.hall("laocheng-2").voice.chime) == (
        "espeak-ng",
        False,
    )
    assert config.voice_cache.max_mb == 16 and config.voice_cache.dir is None


def test_clips_engine_needs_a_folder(check: Check) -> None:
    """engine = "clips" without clips_dir says where to put the recordings."""
    line = one(check('\n[halls.voice]\nengine = "clips"\n'), f"{LAST}.voice.engine", "folder")
    assert "clips_dir" in line


def test_missing_clips_are_listed(check: Check, tmp_path: Path) -> None:
    """Every missing clip is named with why it is needed."""
    record(tmp_path / "clips", [t for t in NEEDED if t not in ("D", "qing_dao")])
    extra = f'\n[halls.voice]\nengine = "clips"\nclips_dir = "{tmp_path / "clips"}"\n'
    line = one(check(extra), f"{LAST}.voice.clips_dir", "2 clip(s) missing")
    assert "D.wav (ticket numbers D001…)" in line and "qing_dao.wav" in line


def test_complete_clips_pass(check: Check, tmp_path: Path) -> None:
    """With every clip recorded alike the config is clean."""
    record(tmp_path / "clips", NEEDED)
    assert check(f'\n[halls.voice]\nengine = "clips"\nclips_dir = "{tmp_path / "clips"}"\n') == []


def test_clips_must_share_a_format(check: Check, tmp_path: Path) -> None:
    """One clip at another sample rate is reported with both formats."""
    record(tmp_path / "clips", NEEDED)
    record(tmp_path / "clips", ["hao"], rate=16000)
    extra = f'\n[halls.voice]\nengine = "clips"\nclips_dir = "{tmp_path / "clips"}"\n'
    one(check(extra), f"{LAST}.voice.clips_dir", "differ in format", "16000 Hz", "8000 Hz")


def test_template_words_without_a_clip(check: Check, tmp_path: Path) -> None:
    """A template reworded for clips names the words it lacks and the key to add them."""
    record(tmp_path / "clips", NEEDED)
    extra = (
        f'\n[halls.voice]\nengine = "clips"\nclips_dir = "{tmp_path / "clips"}"\n'
        '\n[halls.announce]\ncall = "请{number}号到{window}窗口领取。"\n'
    )
    line = one(check(extra), f"{LAST}.announce.call", "no clip for '领取'")
    assert "clips_phrases" in line


def test_bad_clip_name(check: Check) -> None:
    """A clip name that is not a plain ASCII file name is refused."""
    extra = '\n[halls.voice]\nclips_phrases = { "领取" = "领取.wav" }\n'
    one(check(extra), f"{LAST}.voice.clips_phrases", "not a plain file name")


@pytest.mark.parametrize(
    ("extra", "path", "fragment"),
    [
        ('\n[halls.voice]\nengine = "espeak"\n', f"{LAST}.voice.engine", 'use "espeak-ng"'),
        ("\n[halls.voice]\nespeak_speed = 500\n", f"{LAST}.voice.espeak_speed", "≤ 300"),
        ("\n[halls.voice]\ncache_mb = 5\n", f"{LAST}.voice.cache_mb", 'unknown key "cache_mb"'),
        ('\n[halls.voice]\nchime = "yes"\n', f"{LAST}.voice.chime", "true or false"),
        (
            '\n[halls.announce]\ncall = "请{number}号{name}到{window}窗口"\n',
            f"{LAST}.announce.call",
            "unknown placeholder {name}",
        ),
    ],
)
def test_wrong_values(check: Check, extra: str, path: str, fragment: str) -> None:
    """Wrong engine, range, key, type or placeholder: one line each with the fix."""
    one(check(extra), path, fragment)
