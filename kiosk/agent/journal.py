"""The agent's print journal: which jobs it started and finished printing, fsynced, crash-safe.

A job is recorded ``printing`` (fsynced) before its first byte goes to the printer, and
``printed`` (fsynced) once the printer took every byte and reported ready, before the ack.
A job the server re-sends after a crash is then answered from the journal:

- ``printed``: ack printed again, print nothing (the crash came between paper and ack);
- ``printing``: the crash came while the job was going to the printer. Whether paper came
  out cannot be known, so it is printed again: a second slip with the same number is
  harmless, a citizen with no slip is not. This is the one window without exactly-once.

The file is JSON lines, one ``{"job","state","at"}`` per line, appended and fsynced; a torn
last line (power cut mid-write) is ignored. On open, entries older than ``keep`` are dropped
by rewriting the file atomically (temporary file, fsync, rename, fsync of the directory).
The server fails jobs not delivered within minutes, so two days is far longer than needed.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

log = logging.getLogger("hallq.kiosk.journal")

JobState = Literal["printing", "printed", "failed"]
KEEP = timedelta(days=2)


class Journal:
    """Job states by id, kept in an fsynced JSON-lines file."""

    def __init__(self, path: Path, keep: timedelta = KEEP) -> None:
        self.path = path
        self.keep = keep
        self._states: dict[str, tuple[JobState, datetime]] = {}

    def open(self, now: datetime | None = None) -> None:
        """Load the file (creating its directory), dropping entries older than ``keep``."""
        now = now or datetime.now(UTC)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._states = {}
        with contextlib.suppress(FileNotFoundError):
            for line in self.path.read_text(encoding="utf-8").splitlines():
                self._load(line)
        self._states = {j: s for j, s in self._states.items() if now - s[1] <= self.keep}
        self._rewrite()

    def state(self, job: str) -> JobState | None:
        """What the journal knows of ``job``."""
        entry = self._states.get(job)
        return entry[0] if entry is not None else None

    def record(self, job: str, state: JobState, now: datetime | None = None) -> None:
        """Append ``job``'s new state and fsync before returning (blocking: run in a thread)."""
        at = now or datetime.now(UTC)
        line = json.dumps({"job": job, "state": state, "at": at.isoformat()}) + "\n"
        with self.path.open("a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())
        self._states[job] = (state, at)

    def _load(self, line: str) -> None:
        try:
            entry = json.loads(line)
            job, state, at = entry["job"], entry["state"], datetime.fromisoformat(entry["at"])
        except (ValueError, KeyError, TypeError):
            log.warning("journal %s: skipped a damaged line (%d bytes)", self.path, len(line))
            return
        if isinstance(job, str) and state in ("printing", "printed", "failed"):
            self._states[job] = (state, at)

    def _rewrite(self) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        with tmp.open("w", encoding="utf-8") as f:
            for job, (state, at) in self._states.items():
                f.write(json.dumps({"job": job, "state": state, "at": at.isoformat()}) + "\n")
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(self.path)
        fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
