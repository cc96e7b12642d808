"""The chime before every call: two soft bell tones ("ding-dong"), made once with ``wave``."""

from __future__ import annotations

import math
import struct
from functools import cache

from server.voice.wavs import WavFormat, write_wav

FORMAT = WavFormat(channels=1, sample_width=2, rate=22050)
# A falling major third, like the two-tone chimes of halls and stations: E5 then C5.
TONES: tuple[tuple[float, float], ...] = ((659.25, 0.45), (523.25, 0.75))
AMPLITUDE = 0.35  # of full scale: audible over a hall's murmur, not startling
ATTACK_S = 0.01  # a short fade-in: a tone starting at full level clicks


@cache
def chime_wav() -> bytes:
    """The chime as a WAV file (about 1.2 s, 22.05 kHz mono 16-bit), computed once."""
    frames = b"".join(_tone(freq, seconds) for freq, seconds in TONES)
    return write_wav(FORMAT, frames)


def _tone(freq: float, seconds: float) -> bytes:
    n = int(FORMAT.rate * seconds)
    attack = int(FORMAT.rate * ATTACK_S)
    samples = []
    for i in range(n):
        t = i / FORMAT.rate
        # bell-like: a quick rise, then an exponential decay to silence at the tone's end
        envelope = min(1.0, i / attack) * math.exp(-4.0 * t / seconds) * (1 - i / n)
        value = AMPLITUDE * envelope * math.sin(2 * math.pi * freq * t)
        samples.append(round(value * 32767))
    return struct.pack(f"<{n}h", *samples)
