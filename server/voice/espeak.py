"""The espeak-ng engine: offline speech from Debian's ``espeak-ng``, one subprocess per WAV."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from pathlib import Path

from server.voice.engine import Lang, RenderFailed, Utterance
from server.voice.wavs import WavError, read_wav

TIMEOUT_S = 10.0  # a sentence takes ~50 ms; a hung process must never hold a request


class EspeakEngine:
    """``espeak-ng -v <voice> -s <speed> -w out.wav --stdin``, killed after ``timeout_s``.

    The text goes through stdin, never the command line, so nothing in it is read as an option.
    """

    name = "espeak-ng"
    languages = frozenset({"zh", "en"})

    def __init__(
        self,
        voices: dict[Lang, str],
        speed: int,
        *,
        binary: str = "espeak-ng",
        timeout_s: float = TIMEOUT_S,
    ) -> None:
        self.voices = voices
        self.speed = speed
        self.binary = binary
        self.timeout_s = timeout_s

    def fingerprint(self) -> str:
        """Engine, voices and speed."""
        return f"espeak-ng:{self.voices['zh']}:{self.voices['en']}:{self.speed}"

    async def render(self, utterance: Utterance) -> bytes:
        """The utterance spoken by espeak-ng as WAV bytes.

        Raises:
            RenderFailed: espeak-ng is missing, failed, timed out or wrote no audio.
        """
        voice = self.voices[utterance.lang]
        with tempfile.TemporaryDirectory(prefix="hallq-espeak-") as tmp:
            out = Path(tmp) / "out.wav"
            args = ["-v", voice, "-s", str(self.speed), "-w", str(out), "--stdin"]
            await self._run(args, utterance.text)
            try:
                data = out.read_bytes()
                _, frames = read_wav(data)
            except (OSError, WavError) as exc:
                raise _failed(f"wrote no usable WAV ({exc})") from None
        if not frames:
            raise _failed(f"rendered no audio for voice {voice!r}")
        return data

    async def _run(self, args: list[str], text: str) -> None:
        try:
            proc = await asyncio.create_subprocess_exec(
                self.binary,
                *args,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )
        except OSError as exc:
            raise _failed(
                f"cannot run {self.binary!r} ({exc.strerror}): install the Debian package "
                'espeak-ng, or set engine = "browser" in [voice]'
            ) from None
        try:
            _, err = await asyncio.wait_for(proc.communicate(text.encode()), self.timeout_s)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
            raise _failed(f"gave no answer within {self.timeout_s:g} s and was stopped") from None
        if proc.returncode != 0:
            first = err.decode(errors="replace").strip().splitlines()[:1]
            raise _failed(f"exited with {proc.returncode}: {first[0] if first else 'no message'}")


def _failed(why: str) -> RenderFailed:
    return RenderFailed(
        "语音合成暂时不可用，屏幕将使用浏览器朗读。",
        f"espeak-ng {why}",
    )
