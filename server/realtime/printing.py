"""Print jobs to the kiosk agents connected to this process, whichever process issued them.

Jobs live in the database (``print_jobs``), so delivery needs no message between processes:
every ``poll_s`` the desk asks for pending jobs of the kiosks connected *here* (one indexed
query for all of them, nothing at all while no kiosk is connected) and puts each ``print``
frame on every websocket of its kiosk. A kiosk that (re)connects is owed every job not yet
acked, pending or sent: the agent acks a job it already printed from its journal, so a
re-send never prints twice. A frame is queued on the connection like any other (bounded,
in order); if the socket dies first, the job stays ``sent`` and goes again on reconnect.

The frames come from a ``JobSource`` the web layer provides: building a ticket's print
frame needs the hall's configuration and the ticket views of the services layer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Protocol

from sqlalchemy.exc import SQLAlchemyError

from server.domain.errors import HallqError
from server.realtime.connection import ALWAYS, Connection

log = logging.getLogger("hallq.printing")

POLL_S = 0.5  # a job reaches a connected agent within this (+ one query) of its commit


class JobSource(Protocol):
    """Where print frames come from (``server.web.ws`` builds it on the services layer)."""

    async def claim(self, device_ids: Sequence[str], *, resend: bool) -> list[tuple[str, str]]:
        """``(device id, print frame JSON)`` of each job to send now, already marked sent.

        ``resend`` includes jobs sent before and not acked (the kiosk reconnected).
        """
        ...


class PrintDesk:
    """Kiosk connections of this process by device, and the loop that feeds them jobs."""

    def __init__(self, poll_s: float = POLL_S) -> None:
        self.poll_s = poll_s
        self.delivered = 0
        self._kiosks: dict[str, set[Connection]] = {}
        self._owed: set[Connection] = set()  # just connected: owed every unacked job
        self._source: JobSource | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def attach(self, conn: Connection, source: JobSource) -> None:
        """Feed ``conn`` (a kiosk device's websocket, after its hello) its jobs from now on."""
        if conn.device_id is None:
            raise ValueError("only device connections take print jobs")
        self._source = source  # every session passes the same kind of source
        self._kiosks.setdefault(conn.device_id, set()).add(conn)
        self._owed.add(conn)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="print-desk")
        self._wake.set()

    def detach(self, conn: Connection) -> None:
        """Stop feeding ``conn`` (it closed)."""
        self._owed.discard(conn)
        if conn.device_id is None:
            return
        conns = self._kiosks.get(conn.device_id)
        if conns is not None:
            conns.discard(conn)
            if not conns:
                del self._kiosks[conn.device_id]

    def wake(self) -> None:
        """Look for new jobs now rather than at the next poll (a reprint in this process)."""
        self._wake.set()

    async def stop(self) -> None:
        """Stop the loop (the hub's shutdown)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def deliver(self) -> None:
        """One round: every unacked job to the kiosks just connected, new jobs to all."""
        source = self._source
        if source is None or not self._kiosks:
            return
        owed, self._owed = self._owed, set()
        try:
            for conn in owed:
                if conn.device_id is not None and conn.close_code is None:
                    for _, text in await source.claim([conn.device_id], resend=True):
                        self._push({conn}, text)
            for device, text in await source.claim(sorted(self._kiosks), resend=False):
                self._push(self._kiosks.get(device, set()), text)
        except BaseException:
            # Not delivered: the connections keep their claim on a full re-send.
            self._owed |= {c for c in owed if c.close_code is None}
            raise

    def _push(self, conns: set[Connection], text: str) -> None:
        for conn in tuple(conns):
            conn.push(ALWAYS, text)
            self.delivered += 1

    async def _run(self) -> None:
        """Poll while any kiosk is connected; a failed round is logged and retried."""
        while self._kiosks:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_s)
            self._wake.clear()
            try:
                await self.deliver()
            except (HallqError, SQLAlchemyError, OSError) as exc:
                log.warning("print desk: %s; retrying", type(exc).__name__)
                await asyncio.sleep(self.poll_s)
            except Exception:
                log.exception("print desk: delivery failed; retrying")
                await asyncio.sleep(self.poll_s)
