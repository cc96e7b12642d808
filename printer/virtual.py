"""A virtual ESC/POS network printer on loopback, for tests, the demo and trying tickets."""

# Each connection is one job. It decodes the job's text (GB18030 in Chinese mode,
# ASCII outside), turns raster images into PNGs, answers DLE EOT with its status,
# and can be out of paper, refuse connections, or accept and never answer.
# Run it with: python -m printer.virtual --port P --out DIR

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

from PIL import Image

from printer.escpos_decode import EscPosDecoder
from printer.status import PrinterStatus, encode_status

VirtualState = Literal[
    "ok", "paper_near_end", "paper_out", "cover_open", "offline", "error", "refuse", "hang"
]
VIRTUAL_STATES: tuple[str, ...] = get_args(VirtualState)
STATUS_PRESETS: dict[str, PrinterStatus] = {
    "ok": PrinterStatus(),
    "paper_near_end": PrinterStatus(paper_near_end=True),
    "paper_out": PrinterStatus(online=False, paper_near_end=True, paper_out=True),
    "cover_open": PrinterStatus(online=False, cover_open=True),
    "offline": PrinterStatus(online=False),
    "error": PrinterStatus(online=False, error=True),
}
logger = logging.getLogger("hallq.printer.virtual")


@dataclass(frozen=True, slots=True)
class PrintJob:
    """One job the virtual printer printed."""

    number: int
    raw: bytes
    text: str
    images: tuple[Image.Image, ...]
    qr_codes: tuple[str, ...]
    cuts: int
    unknown_commands: tuple[bytes, ...]


class VirtualPrinter:
    """An asyncio TCP server that behaves like a Chinese-mode ESC/POS printer.

    Use ``async with VirtualPrinter() as printer:`` and send to ``printer.url``.
    """

    def __init__(
        self,
        out_dir: Path | None = None,
        state: VirtualState = "ok",
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.out_dir = out_dir
        self.state = state
        self.host = host
        self.port = port
        self.jobs: list[PrintJob] = []
        self._finished: asyncio.Queue[PrintJob] = asyncio.Queue()
        self._server: asyncio.Server | None = None
        self._stopping = asyncio.Event()
        self._connections: dict[asyncio.Task[None], asyncio.StreamWriter] = {}

    @property
    def url(self) -> str:
        """``tcp://host:port`` of this printer."""
        return f"tcp://{self.host}:{self.port}"

    async def __aenter__(self) -> VirtualPrinter:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Bind the port (a free one for port 0) and listen unless the state is ``refuse``."""
        await self._listen()
        if self.state == "refuse":
            self._close_listener()

    async def stop(self) -> None:
        """Stop listening, drop every open connection and wait for their handlers."""
        self._stopping.set()
        self._close_listener()
        for writer in self._connections.values():
            writer.transport.abort()
        if self._connections:
            await asyncio.wait(set(self._connections), timeout=1.0)

    async def set_state(self, state: VirtualState) -> None:
        """Change behaviour; ``refuse`` closes the listening socket so connects are refused."""
        self.state = state
        if state == "refuse":
            self._close_listener()
        elif self._server is None:
            await self._listen()

    async def next_job(self, timeout_s: float = 5.0) -> PrintJob:
        """Wait for the next printed job."""
        return await asyncio.wait_for(self._finished.get(), timeout_s)

    async def _listen(self) -> None:
        """Listen on the port; the first time with port 0, take the port the OS gave."""
        self._server = await asyncio.start_server(
            self._serve, self.host, self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    def _close_listener(self) -> None:
        """Close the listening socket (open connections stay, as on a real printer)."""
        if self._server is not None:
            self._server.close()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One connection: one job."""
        task = asyncio.current_task()
        assert task is not None  # a handler always runs in a task
        self._connections[task] = writer
        try:
            if self.state == "hang":
                await self._stopping.wait()  # accept, then never read and never answer
            else:
                await self._print(reader, writer)
        except ConnectionError as exc:
            logger.info("virtual printer: connection dropped: %r", exc)
        finally:
            writer.transport.abort()
            self._connections.pop(task, None)

    async def _print(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Decode until the client closes, answering status queries as they come."""
        decoder, raw = EscPosDecoder(), bytearray()
        while chunk := await reader.read(65536):
            raw += chunk
            for n in decoder.feed(chunk):
                writer.write(encode_status(self._status())[n - 1 : n] if 1 <= n <= 4 else b"")
            await writer.drain()
        if decoder.job.print_bytes:
            await self._finish(decoder, bytes(raw))

    def _status(self) -> PrinterStatus:
        """The status this printer reports."""
        return STATUS_PRESETS.get(self.state, PrinterStatus())

    async def _finish(self, decoder: EscPosDecoder, raw: bytes) -> None:
        """Record a job, unless the printer could not have printed it."""
        if not self._status().ready:
            logger.warning("virtual printer: %s, discarded a %d-byte job", self.state, len(raw))
            return
        job = _job(len(self.jobs) + 1, decoder, raw)
        self.jobs.append(job)
        if self.out_dir is not None:
            await asyncio.to_thread(save_job, job, self.out_dir)
        logger.info("virtual printer: job %d, %d bytes", job.number, len(raw))
        self._finished.put_nowait(job)


def _job(number: int, decoder: EscPosDecoder, raw: bytes) -> PrintJob:
    """Freeze what the decoder found."""
    found = decoder.job
    return PrintJob(
        number,
        raw,
        decoder.text,
        tuple(found.images),
        tuple(found.qr_codes),
        found.cuts,
        tuple(found.unknown_commands),
    )


def save_job(job: PrintJob, out_dir: Path) -> list[Path]:
    """Write ``job-NNNN.bin`` (raw), ``.txt`` (text), ``.json`` (summary) and ``-N.png`` images.

    Returns:
        The files written.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = out_dir / f"job-{job.number:04d}"
    files = [stem.with_suffix(".bin"), stem.with_suffix(".txt"), stem.with_suffix(".json")]
    files[0].write_bytes(job.raw)
    files[1].write_text(job.text, encoding="utf-8")
    files[2].write_text(json.dumps(_summary(job), ensure_ascii=False, indent=2), encoding="utf-8")
    for index, image in enumerate(job.images, start=1):
        files.append(out_dir / f"{stem.name}-{index}.png")
        image.save(files[-1])
    return files


def _summary(job: PrintJob) -> dict[str, object]:
    """The job's metadata for ``job-NNNN.json``."""
    return {
        "bytes": len(job.raw),
        "qr_codes": list(job.qr_codes),
        "cuts": job.cuts,
        "images": [list(image.size) for image in job.images],
        "unknown_commands": [command.hex(" ") for command in job.unknown_commands],
    }


async def serve_virtual_printer(
    port: int,
    out_dir: Path,
    state: VirtualState = "ok",
    host: str = "127.0.0.1",
    announce: Callable[[str], None] = logger.warning,
) -> None:
    """Run a virtual printer until cancelled; ``announce`` gets its URL once it listens."""
    async with VirtualPrinter(out_dir, state, host, port) as printer:
        announce(f"virtual printer on {printer.url} ({state}), jobs go to {out_dir}")
        await asyncio.Event().wait()


def run_virtual_printer(
    port: int,
    out_dir: Path,
    state: VirtualState = "ok",
    host: str = "127.0.0.1",
    announce: Callable[[str], None] = logger.warning,
) -> None:
    """Blocking entry point for ``hallq printer virtual`` and ``python -m printer.virtual``.

    Args:
        port: TCP port; 0 picks a free one (see the announced URL).
        out_dir: where each job's .bin, .txt, .json and .png files go.
        state: how the printer behaves: a status preset, ``refuse`` or ``hang``.
        host: listening address; loopback by default.
        announce: called with the printer's URL once it listens.
    """
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_virtual_printer(port, out_dir, state, host, announce))


if __name__ == "__main__":
    from printer.cli import main

    sys.exit(main(["virtual", *sys.argv[1:]]))
