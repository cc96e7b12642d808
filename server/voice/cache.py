"""A bounded folder of rendered WAV files, named by the hash of what made them.

Least recently used files go first when the folder grows past its limit. Files are written to
a temporary name and renamed, so a reader (or another worker sharing the folder) never sees
half a file.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path

DEFAULT_DIR = Path(tempfile.gettempdir()) / "hallq-voice"


def cache_key(*parts: str) -> str:
    """A file-safe key for the parts (engine fingerprint, language, text …)."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:40]


class AudioCache:
    """WAV bytes by key in ``folder``, at most ``max_bytes`` in total (oldest use evicted)."""

    def __init__(self, folder: Path, max_bytes: int) -> None:
        self.folder = folder
        self.max_bytes = max_bytes

    def get(self, key: str) -> bytes | None:
        """The cached bytes, marking them recently used; None on a miss."""
        path = self._path(key)
        try:
            data = path.read_bytes()
            os.utime(path)
        except FileNotFoundError:
            return None
        return data

    def put(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key``, then evict the least recently used beyond the limit."""
        self.folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".part-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(tmp, self._path(key))
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        self._evict()

    def _evict(self) -> None:
        entries = []
        for path in self.folder.glob("*.wav"):
            with contextlib.suppress(FileNotFoundError):  # another worker evicted it
                stat = path.stat()
                entries.append((stat.st_mtime_ns, stat.st_size, path))
        total = sum(size for _, size, _ in entries)
        for _, size, path in sorted(entries):
            if total <= self.max_bytes:
                break
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            total -= size

    def _path(self, key: str) -> Path:
        return self.folder / f"{key}.wav"
