"""Uncompressed PCM WAV in and out with the standard library: formats, silence, joining."""

from __future__ import annotations

import io
import wave
from dataclasses import dataclass
from pathlib import Path


class WavError(ValueError):
    """Bytes or a file that are not a readable uncompressed PCM WAV."""


@dataclass(frozen=True, slots=True)
class WavFormat:
    """What must match for PCM frames to be joined: channels, bytes per sample, sample rate."""

    channels: int
    sample_width: int
    rate: int

    def __str__(self) -> str:
        return f"{self.rate} Hz, {8 * self.sample_width}-bit, {self.channels} channel(s)"


def read_wav(source: bytes | Path) -> tuple[WavFormat, bytes]:
    """The format and raw frames of a PCM WAV given as bytes or a path.

    Raises:
        WavError: not a WAV, compressed, or unreadable.
    """
    try:
        handle = io.BytesIO(source) if isinstance(source, bytes) else source.open("rb")
        with handle, wave.open(handle, "rb") as wav:
            fmt = WavFormat(wav.getnchannels(), wav.getsampwidth(), wav.getframerate())
            frames = wav.readframes(wav.getnframes())
    except (wave.Error, EOFError) as exc:
        raise WavError(f"not an uncompressed PCM WAV ({exc})") from None
    return fmt, frames


def write_wav(fmt: WavFormat, frames: bytes) -> bytes:
    """``frames`` in ``fmt`` as a complete WAV file."""
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(fmt.channels)
        wav.setsampwidth(fmt.sample_width)
        wav.setframerate(fmt.rate)
        wav.writeframes(frames)
    return out.getvalue()


def silence(fmt: WavFormat, seconds: float) -> bytes:
    """Frames of silence (zero samples are silent for 16-bit; 8-bit PCM is centred on 128)."""
    count = round(fmt.rate * seconds) * fmt.channels
    return (b"\x80" if fmt.sample_width == 1 else b"\x00" * fmt.sample_width) * count


def duration(data: bytes) -> float:
    """Seconds of audio in a WAV file's bytes."""
    fmt, frames = read_wav(data)
    return len(frames) / (fmt.channels * fmt.sample_width * fmt.rate)
