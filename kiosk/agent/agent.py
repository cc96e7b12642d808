"""The kiosk agent: print jobs from the hall websocket on the kiosk's ESC/POS printer, and ack.

For each ``print`` job, in order, one at a time:

1. a job the journal says was printed is acked ``printed`` again, without printing;
2. the printer's status is read (DLE EOT); out of paper, cover open, a fault or no answer
   acks ``failed`` with the reason and reports ``device.status`` (staff see it);
3. the ticket is rendered and sent, the journal saying ``printing`` first; the transport
   checks the status again after the job, so a paper end during it fails the job too;
4. the journal says ``printed``, then the agent acks ``printed``.

The printer's status goes to the server as ``device.status`` after every job and every
``status_interval_s``; the server turns a change into a hall event. An ack that cannot be
sent (link down) is not kept: the server re-sends every unacked job after the reconnect,
and the journal answers it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from kiosk.agent.config import AgentConfig
from kiosk.agent.journal import Journal
from kiosk.agent.ticket import BadJob, render_job
from printer.errors import PrinterError, StatusUnsupported
from printer.status import PrinterStatus, raise_unless_ready
from printer.transports import Transport, open_transport
from server.client import LiveClient

log = logging.getLogger("hallq.kiosk.agent")

PrinterState = dict[str, Any]  # the contract's {"online","paper","cover_open"}
QUEUE_LIMIT = 200  # jobs waiting for the printer; a kiosk issues a few a minute
TICK_S = 1.0  # how often the status loop looks at the link and the clock
SEND_WAIT_S = 5.0  # an ack or status waits this long for the link, then the re-send covers it


def printer_state(status: PrinterStatus) -> PrinterState:
    """A printer status as the ``device.status`` frame's ``printer`` object."""
    paper = "out" if status.paper_out else "near_end" if status.paper_near_end else "ok"
    return {"online": status.online, "paper": paper, "cover_open": status.cover_open}


def failure_reason(exc: Exception) -> str:
    """Chinese for the hall first, then the operator's detail; at most 200 characters."""
    zh = getattr(exc, "user_message", "打印失败").split(" / ")[0]
    return f"{zh} {type(exc).__name__}: {exc}"[:200]


class KioskAgent:
    """Follows the hall as its kiosk, prints the kiosk's jobs, reports its printer."""

    def __init__(
        self,
        config: AgentConfig,
        *,
        transport: Transport | None = None,
        client_factory: Callable[..., LiveClient] = LiveClient,
    ) -> None:
        self.config = config
        self.printer = transport or open_transport(config.printer.url, config.printer.timeout_s)
        self.journal = Journal(config.journal)
        self.client = client_factory(
            config.ws_url, config.token, config.hall, on_message=self._on_message
        )
        self.printed = self.failed = self.answered_from_journal = 0
        self._jobs: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_LIMIT)
        self._queued: set[str] = set()  # job ids queued or being printed (re-sends skip)
        self._printer_lock = asyncio.Lock()  # one conversation with the printer at a time
        self._state: PrinterState = {"online": True, "paper": "ok", "cover_open": False}
        self._reported: PrinterState | None = None

    async def run(self) -> None:
        """Run until cancelled: the websocket, the print worker and the status loop."""
        await asyncio.to_thread(self.journal.open)
        async with self.client, asyncio.TaskGroup() as tasks:
            tasks.create_task(self._print_worker(), name="kiosk-print")
            tasks.create_task(self._status_loop(), name="kiosk-status")

    # --- jobs -----------------------------------------------------------------------------

    async def _on_message(self, message: dict[str, Any]) -> None:
        """Queue ``print`` jobs (the websocket's reader must never wait for the printer)."""
        if message.get("type") != "print":
            return
        job = message.get("job")
        if not isinstance(job, dict) or not isinstance(job.get("id"), str):
            log.warning("ignored a print frame without a job id")
            return
        if job["id"] in self._queued:
            return  # re-sent while still waiting or printing here
        try:
            self._jobs.put_nowait(job)
        except asyncio.QueueFull:
            log.warning("print queue full; job %s waits for the next re-send", job["id"])
            return
        self._queued.add(job["id"])

    async def _print_worker(self) -> None:
        while True:
            job = await self._jobs.get()
            try:
                await self.handle(job)
            finally:
                self._queued.discard(job["id"])

    async def handle(self, job: dict[str, Any]) -> None:
        """Print one job (or answer it from the journal) and ack it."""
        job_id: str = job["id"]
        state = self.journal.state(job_id)
        if state == "printed":
            self.answered_from_journal += 1
            log.info("job %s was printed before a restart: acking without printing", job_id)
            await self._ack(job_id, "printed", None)
            return
        if state == "printing":
            log.warning("job %s was cut off mid-print by a restart: printing it again", job_id)
        try:
            data = await asyncio.to_thread(render_job, job, self.config.printer)
        except (BadJob, PrinterError) as exc:
            await self._fail(job_id, exc)
            return
        async with self._printer_lock:
            outcome = await self._print(job_id, data)
        if outcome is not None:
            await self._fail(job_id, outcome)
            return
        self.printed += 1
        await self._ack(job_id, "printed", None)
        await self._report()

    async def _print(self, job_id: str, data: bytes) -> Exception | None:
        """Status check, journal, the job; returns the failure, or None once it printed."""
        try:
            status = await self.printer.status()
            self._observe(status)
            raise_unless_ready(status, self.config.printer.url)
        except StatusUnsupported:
            pass  # file:// printers cannot be asked: print blind
        except PrinterError as exc:
            self._observe_failure(exc)
            return exc
        await asyncio.to_thread(self.journal.record, job_id, "printing")
        try:
            after = await self.printer.send(data)
        except PrinterError as exc:
            self._observe_failure(exc)
            await asyncio.to_thread(self.journal.record, job_id, "failed")
            return exc
        if after is not None:
            self._observe(after)
        await asyncio.to_thread(self.journal.record, job_id, "printed")
        return None

    async def _fail(self, job_id: str, exc: Exception) -> None:
        self.failed += 1
        reason = failure_reason(exc)
        log.warning("job %s failed: %s", job_id, reason)
        await self._ack(job_id, "failed", reason)
        await self._report()

    async def _ack(self, job_id: str, status: str, reason: str | None) -> None:
        frame: dict[str, Any] = {"type": "print.ack", "job": job_id, "status": status}
        if reason is not None:
            frame["reason"] = reason
        if not await self._send(frame):
            log.info("ack of job %s not sent (offline); the server re-sends the job", job_id)

    # --- printer status -------------------------------------------------------------------

    def _observe(self, status: PrinterStatus) -> None:
        self._state = printer_state(status)

    def _observe_failure(self, exc: PrinterError) -> None:
        """A printer that did not answer is offline; what it said before about paper stays."""
        status = getattr(exc, "status", None)
        if isinstance(status, PrinterStatus):
            self._observe(status)
        else:
            self._state = {**self._state, "online": False}

    async def _read_status(self) -> None:
        async with self._printer_lock:
            try:
                self._observe(await self.printer.status())
            except StatusUnsupported:
                return
            except PrinterError as exc:
                self._observe_failure(exc)

    async def _report(self, *, force: bool = False) -> None:
        """Send ``device.status`` when it changed since the last report (or when forced)."""
        if not force and self._state == self._reported:
            return
        state = dict(self._state)
        if await self._send({"type": "device.status", "printer": state}):
            self._reported = state

    async def _send(self, frame: dict[str, Any]) -> bool:
        """Send once the link is up and past its hello (a frame before it would close it)."""
        try:
            async with asyncio.timeout(SEND_WAIT_S):
                await self.client.wait_synced()
            await self.client.send(frame)
        except (TimeoutError, ConnectionError):
            return False
        return True

    async def _status_loop(self) -> None:
        """Every ``status_interval_s``, and on every new connection, report the printer."""
        last, link = 0.0, (-1, False)
        while True:
            now = time.monotonic()
            current = (self.client.reconnects, self.client.connected)
            if self.client.in_sync and (current != link or now - last >= self._interval):
                await self._read_status()
                await self._report(force=True)
                last, link = now, current
            elif not self.client.connected:
                link = current
            await asyncio.sleep(TICK_S)

    @property
    def _interval(self) -> float:
        return self.config.status_interval_s

    @property
    def idle(self) -> bool:
        """No job is waiting or printing."""
        return not self._queued
