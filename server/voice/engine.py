"""The one interface every speech engine offers, and the error a failed rendering raises.

Engine (name, languages, fingerprint(), render(Utterance) -> WAV bytes)
├── EspeakEngine   espeak-ng in a subprocess with a timeout (the default, offline)
└── ClipsEngine    a hall's own recorded clips joined token by token
(engine "browser" has no server audio: the page speaks with speechSynthesis)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from server.domain.errors import HallqError

Lang = Literal["zh", "en"]


@dataclass(frozen=True, slots=True)
class Utterance:
    """One sentence to render: the filled text, and what it was filled from (clips need it)."""

    lang: Lang
    text: str
    template: str
    number: str
    window: int


class Engine(Protocol):
    """A speech engine: renders an utterance to a WAV file's bytes."""

    @property
    def name(self) -> str: ...

    @property
    def languages(self) -> frozenset[str]: ...

    def fingerprint(self) -> str:
        """Engine and voice parameters: part of every cache key, so a change renders anew."""
        ...

    async def render(self, utterance: Utterance) -> bytes:
        """The utterance as WAV bytes; raises ``RenderFailed``."""
        ...


class RenderFailed(HallqError):
    """Audio could not be made (engine missing, timed out, clips broken): 503, and the page
    falls back to the browser's own speech."""

    status = 503
    default_code = "voice_unavailable"
