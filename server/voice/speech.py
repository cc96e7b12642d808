"""Audio for announcements at run time: one engine per hall, the disk cache, one render at a time.

Built on first use by the audio route (``speech_for``), so the server starts the same whether or
not anyone listens; it holds no open resources (each rendering is its own subprocess or reads
its own clips), so there is nothing to close at shutdown.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from server.config import AppConfig, HallConfig
from server.domain.errors import NotFound
from server.voice.announcements import parse_audio_id, resolve
from server.voice.cache import DEFAULT_DIR, AudioCache, cache_key
from server.voice.chime import chime_wav
from server.voice.clips import ClipsEngine, phrase_table
from server.voice.engine import Engine, Utterance
from server.voice.espeak import EspeakEngine

log = logging.getLogger("hallq.voice")
# Renders run one at a time per process: a sentence takes ~50 ms, and a burst of requests for
# new sentences must not take both cores from the calls themselves.
MAX_RENDERS = 1
EngineFactory = Callable[[HallConfig], Engine | None]


def build_engine(hall: HallConfig) -> Engine | None:
    """The hall's configured engine, or None for ``browser`` (no server audio)."""
    v = hall.voice
    if v.engine == "espeak-ng":
        return EspeakEngine({"zh": v.espeak_voice, "en": v.espeak_voice_en}, v.espeak_speed)
    if v.engine == "clips" and v.clips_dir is not None:
        return ClipsEngine(v.clips_dir, phrase_table(dict(v.clips_phrases)))
    return None


class Speech:
    """Serves announcement WAVs by audio id, rendering each sentence once."""

    def __init__(
        self,
        config: AppConfig,
        *,
        cache: AudioCache | None = None,
        engines: EngineFactory = build_engine,
    ) -> None:
        folder = config.voice_cache.dir or DEFAULT_DIR
        self.config = config
        self.cache = cache or AudioCache(folder, config.voice_cache.max_mb * 1024 * 1024)
        self._factory = engines
        self._engines: dict[str, Engine | None] = {}
        self._renders = asyncio.Semaphore(MAX_RENDERS)
        self._inflight: dict[str, asyncio.Future[bytes]] = {}

    def chime(self) -> bytes:
        """The chime played before each call."""
        return chime_wav()

    async def wav(self, audio_id: str) -> bytes:
        """The WAV an audio id names (from the cache, or rendered now).

        Raises:
            NotFound: not an id this server's config would announce (``announcement_not_found``).
            RenderFailed: the engine could not make it.
        """
        ref = parse_audio_id(audio_id)
        hall = self.config.halls.get(ref.hall) if ref else None
        utterance = resolve(hall, ref) if hall and ref else None
        engine = self._engine(hall) if hall else None
        if hall is None or utterance is None or engine is None:
            raise _unknown(audio_id)
        return await self.render(engine, utterance)

    async def render(self, engine: Engine, u: Utterance) -> bytes:
        """The utterance as WAV: cached bytes, the render in progress, or a new render."""
        key = cache_key(engine.fingerprint(), u.lang, u.text)
        cached = await asyncio.to_thread(self.cache.get, key)
        if cached is not None:
            return cached
        pending = self._inflight.get(key)
        if pending is not None:  # the same sentence asked for twice: render it once
            return await asyncio.shield(pending)
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            async with self._renders:
                data = await engine.render(u)
            await asyncio.to_thread(self.cache.put, key, data)
            future.set_result(data)
            return data
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters re-raise it, no "never retrieved" warning
            log.warning("voice: %s (%s, %s)", exc, engine.name, u.lang)
            raise
        except BaseException:  # cancelled: whoever waits for the same sentence may ask again
            future.cancel()
            raise
        finally:
            del self._inflight[key]

    def _engine(self, hall: HallConfig) -> Engine | None:
        if hall.id not in self._engines:
            self._engines[hall.id] = self._factory(hall)
        return self._engines[hall.id]


def _unknown(audio_id: str) -> NotFound:
    return NotFound(
        "没有这条语音（可能是配置已更改），屏幕将使用浏览器朗读。",
        f"No announcement audio {audio_id!r} under the current config (changed template or "
        "voice settings, or not a number and window this hall calls).",
        code="announcement_not_found",
    )
