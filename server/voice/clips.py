"""The clips engine: a hall's own recorded WAV clips, joined token by token into a sentence.

Token scheme (file ``<token>.wav`` in the hall's ``clips_dir``, ASCII names so a folder
survives zip files and Windows PCs):

- ``{number}``: one clip per character: ``A.wav`` … ``Z.wav``, digits ``0.wav`` … ``9.wav``
  (read 零 一 二 … 九);
- ``{window}``: the window read as a numeral, one clip per character of it: the digit clips
  plus ``shi.wav`` 十, ``bai.wav`` 百, ``qian.wav`` 千 and ``hao.wav`` 号 (12 → shi 2 hao);
- the template's own words: the longest phrase of the phrase table at each place
  (``窗口办理`` → ``chuangkou_banli.wav``, ``请`` → ``qing.wav``); ``clips_phrases`` adds to it;
- punctuation (，。、…) becomes a short generated pause, not a clip.

Only the clips a hall's templates, queue prefixes and window numbers need are required. This
module imports nothing of ``server.config`` (the config checks call it).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from string import Formatter

from server.domain.announce import spoken_window
from server.voice.engine import RenderFailed, Utterance
from server.voice.wavs import WavError, WavFormat, read_wav, silence, write_wav

PAUSE = "<pause>"  # generated silence where the template has punctuation
PAUSE_S = 0.25
PUNCTUATION = frozenset("，,、；;：:。.！!？? \u3000")
DEFAULT_PHRASES: dict[str, str] = {
    "请": "qing",
    "号": "hao",
    "到": "dao",
    "请到": "qing_dao",
    "窗口": "chuangkou",
    "办理": "banli",
    "继续": "jixu",
    "窗口办理": "chuangkou_banli",
    "窗口继续办理": "chuangkou_jixu_banli",
}
CLIP_NAME = re.compile(r"^[a-z0-9_]{1,40}$")
_NUMERALS = {d: str(i) for i, d in enumerate("零一二三四五六七八九")} | {
    "十": "shi",
    "百": "bai",
    "千": "qian",
    "号": "hao",
}


class UnknownPhrase(ValueError):
    """Template text that no phrase of the table covers."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


@dataclass(frozen=True, slots=True)
class ClipIssue:
    """A problem with a hall's clips: what is wrong and the fix (the config names the key)."""

    what: str
    fix: str


def number_tokens(number: str) -> list[str]:
    """``"A012"`` → ``["A", "0", "1", "2"]``: read digit by digit, like the Chinese text."""
    return [ch.upper() for ch in number]


def window_tokens(window: int) -> list[str]:
    """12 → ``["shi", "2", "hao"]``: the characters of ``spoken_window`` (十二号)."""
    return [_NUMERALS[ch] for ch in spoken_window(window)]


def phrase_tokens(text: str, phrases: Mapping[str, str]) -> list[str]:
    """Template words as clip tokens: longest phrase first, punctuation as a pause.

    Raises:
        UnknownPhrase: with the first run of text no phrase covers.
    """
    tokens: list[str] = []
    longest = max(map(len, phrases), default=0)
    i = 0
    while i < len(text):
        if text[i] in PUNCTUATION:
            tokens.append(PAUSE)
            i += 1
            continue
        size = next((n for n in range(longest, 0, -1) if text[i : i + n] in phrases), 0)
        if size == 0:
            end = i + 1
            while end < len(text) and text[end] not in PUNCTUATION:
                end += 1
            raise UnknownPhrase(text[i:end])
        tokens.append(phrases[text[i : i + size]])
        i += size
    return tokens


def sentence_tokens(
    template: str, number: str, window: int, phrases: Mapping[str, str]
) -> list[str]:
    """The clip tokens of a filled template, pauses merged and none at either end.

    Raises:
        UnknownPhrase: template text without a clip.
    """
    tokens: list[str] = []
    for literal, field, _, _ in Formatter().parse(template):
        tokens += phrase_tokens(literal, phrases)
        if field == "number":
            tokens += number_tokens(number)
        elif field == "window":
            tokens += window_tokens(window)
    merged = [t for i, t in enumerate(tokens) if t != PAUSE or (i and tokens[i - 1] != PAUSE)]
    while merged and merged[-1] == PAUSE:
        merged.pop()
    return merged[1:] if merged[:1] == [PAUSE] else merged


def phrase_table(extra: Mapping[str, str]) -> dict[str, str]:
    """The default phrases with a hall's ``clips_phrases`` added (overriding on equal text)."""
    return {**DEFAULT_PHRASES, **extra}


def phrase_issues(extra: Mapping[str, str]) -> list[ClipIssue]:
    """Problems of ``clips_phrases`` entries: clip names must be plain ASCII tokens."""
    return [
        ClipIssue(
            f"clip name {name!r} for {text!r} is not a plain file name",
            f'use lowercase ASCII letters, digits and _, e.g. "{text}" = "lingqu"',
        )
        for text, name in extra.items()
        if not CLIP_NAME.match(name) or not text.strip()
    ]


def needed_clips(
    templates: Iterable[str],
    prefixes: Iterable[str],
    windows: Iterable[int],
    phrases: Mapping[str, str],
) -> tuple[dict[str, str], list[ClipIssue]]:
    """Every clip a hall needs, each with why, and the template text no phrase covers."""
    needed: dict[str, str] = {}
    issues: list[ClipIssue] = []
    for template in templates:
        for literal, _, _, _ in Formatter().parse(template):
            try:
                for token in phrase_tokens(literal, phrases):
                    needed.setdefault(token, f"the words of {template!r}")
            except UnknownPhrase as exc:
                issues.append(_unknown_phrase(exc.text, template))
    for prefix in prefixes:
        for ch in prefix:
            needed.setdefault(ch, f"ticket numbers {prefix}001…")
    for digit in "0123456789":
        needed.setdefault(digit, "ticket numbers (read digit by digit)")
    for window in windows:
        for token in window_tokens(window):
            needed.setdefault(token, f"window {window}")
    needed.pop(PAUSE, None)
    return needed, issues


def _unknown_phrase(text: str, template: str) -> ClipIssue:
    return ClipIssue(
        f"the clips engine has no clip for {text!r} in {template!r}",
        f'add clips_phrases = {{ "{text}" = "<name>" }} to the voice table and record '
        "<name>.wav, or reword the template (see docs/voice.md)",
    )


def folder_issues(folder: Path, needed: Mapping[str, str]) -> list[ClipIssue]:
    """Missing, unreadable or mismatched clips in ``folder`` (all must share one format)."""
    if not folder.is_dir():
        return [ClipIssue(f"{folder} is not a folder", "record the clips there (docs/voice.md)")]
    missing = [
        f"{token}.wav ({why})"
        for token, why in needed.items()
        if not _clip(folder, token).is_file()
    ]
    if missing:
        return [
            ClipIssue(
                f"{len(missing)} clip(s) missing in {folder}: {'; '.join(missing)}",
                "record each missing clip as <token>.wav (docs/voice.md lists the tokens)",
            )
        ]
    formats: dict[WavFormat, list[str]] = {}
    for token in needed:
        try:
            fmt, _ = read_wav(_clip(folder, token))
        except (WavError, OSError) as exc:
            return [ClipIssue(f"{token}.wav: {exc}", "save it as uncompressed PCM WAV")]
        formats.setdefault(fmt, []).append(f"{token}.wav")
    if len(formats) > 1:
        found = "; ".join(f"{fmt}: {', '.join(names[:5])}" for fmt, names in formats.items())
        return [ClipIssue(f"clips differ in format ({found})", "export all clips alike")]
    return []


def _clip(folder: Path, token: str) -> Path:
    return folder / f"{token}.wav"


class ClipsEngine:
    """Joins recorded clips; speaks Chinese only (English falls back to the browser)."""

    name = "clips"
    languages = frozenset({"zh"})

    def __init__(self, folder: Path, phrases: Mapping[str, str]) -> None:
        self.folder = folder
        self.phrases = dict(phrases)

    def fingerprint(self) -> str:
        """Folder, phrase table and each clip's size and time: re-recording renews the cache."""
        parts = [str(self.folder.resolve()), repr(sorted(self.phrases.items()))]
        for path in sorted(self.folder.glob("*.wav")):
            stat = path.stat()
            parts.append(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}")
        return "clips:" + hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]

    async def render(self, utterance: Utterance) -> bytes:
        """The clips of the utterance's tokens joined into one WAV.

        Raises:
            RenderFailed: a clip missing or in another format, or a phrase without a clip.
        """
        try:
            tokens = sentence_tokens(
                utterance.template, utterance.number, utterance.window, self.phrases
            )
            return self.join(tokens)
        except UnknownPhrase as exc:
            raise _failed(f"no clip for the words {exc.text!r}") from None

    def join(self, tokens: list[str]) -> bytes:
        """One WAV of the clips of ``tokens`` in order (``PAUSE`` as silence).

        Raises:
            RenderFailed: a clip is missing, unreadable or in another format than the first.
        """
        fmt: WavFormat | None = None
        parts: list[bytes | float] = []
        for token in tokens:
            if token == PAUSE:
                parts.append(PAUSE_S)
                continue
            try:
                clip_fmt, frames = read_wav(_clip(self.folder, token))
            except (WavError, OSError) as exc:
                raise _failed(f"clip {token}.wav in {self.folder}: {exc}") from None
            if fmt is not None and clip_fmt != fmt:
                raise _failed(f"clip {token}.wav is {clip_fmt}, the others {fmt}")
            fmt = clip_fmt
            parts.append(frames)
        if fmt is None:
            raise _failed("nothing to say")
        joined = b"".join(p if isinstance(p, bytes) else silence(fmt, p) for p in parts)
        return write_wav(fmt, joined)


def _failed(why: str) -> RenderFailed:
    return RenderFailed(
        "大厅录音不完整，暂时无法播放语音叫号，请检查录音文件。",
        f"clips engine: {why}; see docs/voice.md",
    )
