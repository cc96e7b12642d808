"""The ``announce`` block of call events, and the audio ids its URLs carry (pure, no I/O).

An audio id names what it says: ``jinjiang.call.zh.A001.3.5e1f9c2a07b4.wav`` is hall, kind,
language, ticket number, window number and a fingerprint of the engine settings and the
sentence. Any worker can rebuild the sentence from the id and the config, so nothing is stored
per announcement; a fingerprint that no longer matches (the template or voice changed) is
refused instead of saying something other than the screen showed. The id only ever holds a
number and a window, which the hall screen shows to everyone anyway.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from server.config import HallConfig
from server.config.model import AnnounceKind, VoiceConfig
from server.domain.announce import announce
from server.voice.clips import ClipsEngine
from server.voice.engine import Lang, Utterance
from server.voice.espeak import EspeakEngine

AUDIO_PREFIX = "/api/v1/announcements/"
CHIME_ID = "chime"
CHIME_URL = f"{AUDIO_PREFIX}{CHIME_ID}.wav"
KINDS: tuple[AnnounceKind, ...] = ("call", "recall", "transfer")
LANGUAGES: dict[str, frozenset[str]] = {
    "espeak-ng": EspeakEngine.languages,
    "clips": ClipsEngine.languages,
    "browser": frozenset(),  # the page speaks the text itself
}
_ID = re.compile(
    r"^(?P<hall>[a-z0-9][a-z0-9_-]{0,31})\.(?P<kind>call|recall|transfer)\.(?P<lang>zh|en)"
    r"\.(?P<number>[A-Z]{1,2}[0-9]{1,6})\.(?P<window>[0-9]{1,4})\.(?P<fp>[0-9a-f]{12})$"
)


@dataclass(frozen=True, slots=True)
class AudioRef:
    """A parsed audio id."""

    hall: str
    kind: AnnounceKind
    lang: Lang
    number: str
    window: int
    fingerprint: str


def voice_block(hall: HallConfig, kind: AnnounceKind, number: str, window: int) -> dict[str, Any]:
    """The ``announce`` block of a call event: texts, audio URLs, chime and repeat count.

    ``audio``/``audio_en`` are None when the hall's engine does not speak that language (the
    page then uses the browser's speech); ``en`` and ``audio_en`` are None without English.
    """
    english = hall.announce.english
    zh, en = (_utterance(hall, kind, lang, number, window) for lang in ("zh", "en"))
    return {
        "kind": kind,
        "zh": zh.text,
        "en": en.text if english else None,
        "audio": audio_url(hall, kind, zh),
        "audio_en": audio_url(hall, kind, en) if english else None,
        "chime": CHIME_URL if hall.voice.chime else None,
        "repeat": hall.announce.repeat,
    }


def audio_url(hall: HallConfig, kind: AnnounceKind, u: Utterance) -> str | None:
    """Where the utterance's WAV is served, or None when the engine does not speak it."""
    if u.lang not in LANGUAGES[hall.voice.engine]:
        return None
    fp = _fingerprint(hall.voice, u)
    return f"{AUDIO_PREFIX}{hall.id}.{kind}.{u.lang}.{u.number}.{u.window}.{fp}.wav"


def parse_audio_id(audio_id: str) -> AudioRef | None:
    """The parts of an audio id (without ``.wav``), or None if it is not one."""
    m = _ID.match(audio_id)
    if m is None:
        return None
    lang: Lang = "zh" if m["lang"] == "zh" else "en"
    kind = next(k for k in KINDS if k == m["kind"])
    return AudioRef(m["hall"], kind, lang, m["number"], int(m["window"]), m["fp"])


def resolve(hall: HallConfig, ref: AudioRef) -> Utterance | None:
    """The utterance an id stands for under the current config, or None if the hall would
    never have announced it (unknown window or prefix, language off, stale fingerprint)."""
    windows = {w.number for w in hall.windows.values()}
    prefixes = {q.prefix for q in hall.queues.values()}
    prefix = ref.number.rstrip("0123456789")
    if ref.window not in windows or prefix not in prefixes:
        return None
    if ref.lang == "en" and not hall.announce.english:
        return None
    u = _utterance(hall, ref.kind, ref.lang, ref.number, ref.window)
    if u.lang not in LANGUAGES[hall.voice.engine] or _fingerprint(hall.voice, u) != ref.fingerprint:
        return None
    return u


def _utterance(
    hall: HallConfig, kind: AnnounceKind, lang: Lang, number: str, window: int
) -> Utterance:
    zh_template, en_template = hall.announce.templates(kind)
    texts = announce(kind, number, window, zh_template=zh_template, en_template=en_template)
    template = zh_template if lang == "zh" else en_template
    return Utterance(lang, texts[lang], template, number, window)


def _fingerprint(voice: VoiceConfig, u: Utterance) -> str:
    settings = (
        voice.engine,
        voice.espeak_voice if u.lang == "zh" else voice.espeak_voice_en,
        str(voice.espeak_speed),
        str(voice.clips_dir),
        repr(voice.clips_phrases),
        u.lang,
        u.text,
    )
    return hashlib.sha256("\x1f".join(settings).encode()).hexdigest()[:12]
