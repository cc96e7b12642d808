"""The ``tcp://`` transport: raw ESC/POS on port 9100, with asyncio streams."""

# Why not python-escpos's Network class in a thread: it uses a blocking socket with
# one timeout per call, so connect + send + status read can take several timeouts
# in a row; a thread stuck in sendall to a printer that stopped reading cannot be
# cancelled; and its _read returns whatever one recv(16) gives. Network printers
# are what halls mostly use, and R9 needs one hard deadline for the whole job,
# which asyncio.timeout around streams gives without threads.

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeAlias, TypeVar

from printer.errors import (
    PrinterError,
    PrinterOffline,
    PrinterRefused,
    PrinterTimeout,
)
from printer.status import (
    STATUS_QUERY,
    STATUS_REPLY_LENGTH,
    PrinterStatus,
    decode_status,
    raise_unless_ready,
)
from printer.urls import PrinterAddress


@dataclass(slots=True)
class _Progress:
    """The stage a job reached, for the timeout message."""

    stage: str = "connecting"
    sent: int = 0


T = TypeVar("T")
_Streams: TypeAlias = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class TcpTransport:
    """A network printer; each job is one connection, as printers on port 9100 expect."""

    def __init__(self, address: PrinterAddress, timeout_s: float) -> None:
        self.address = address
        self.timeout_s = timeout_s

    async def send(self, data: bytes) -> PrinterStatus | None:
        """Send one job; check the printer's status before and after when the URL allows.

        Returns:
            The status after the job, or None with ``?status=off``.

        Raises:
            PrinterError: a typed error within ``timeout_s`` seconds.
        """
        return await self._session(lambda streams, progress: self._job(streams, data, progress))

    async def status(self) -> PrinterStatus:
        """Ask the printer for its real-time status (DLE EOT 1–4)."""
        return await self._session(lambda streams, progress: _query(streams, progress))

    async def _session(self, work: Callable[[_Streams, _Progress], Awaitable[T]]) -> T:
        """Connect, run ``work`` and close, all within the deadline, with errors translated."""
        progress = _Progress()
        try:
            async with asyncio.timeout(self.timeout_s):
                streams = await asyncio.open_connection(self.address.host, self.address.port)
                return await _closing(streams, work(streams, progress))
        except PrinterError:
            raise
        except TimeoutError:
            raise self._timeout(progress) from None
        except ConnectionRefusedError as exc:
            raise PrinterRefused(
                f"{self.address.url} refused the connection ({exc}): "
                f"is the printer switched on, and is {self.address.port} "
                f"its raw printing port?"
            ) from None
        except (OSError, asyncio.IncompleteReadError) as exc:
            raise PrinterOffline(
                f"{self.address.url} failed while {progress.stage}: {exc!r}; "
                f"check the cable and the printer's IP address"
            ) from None

    def _timeout(self, progress: _Progress) -> PrinterTimeout:
        """The timeout error, saying how far the job got."""
        return PrinterTimeout(
            f"{self.address.url} gave no answer within {self.timeout_s:g} s while "
            f"{progress.stage} ({progress.sent} bytes sent); a printer that accepts the "
            f"connection but never answers is hung: switch it off and on"
        )

    async def _job(
        self, streams: _Streams, data: bytes, progress: _Progress
    ) -> PrinterStatus | None:
        """Status check, the job, status check: a paper end during the job is reported."""
        if self.address.check_status:
            raise_unless_ready(await _query(streams, progress), self.address.url)
        progress.stage = "sending the job"
        streams[1].write(data)
        await streams[1].drain()
        progress.sent = len(data)
        if not self.address.check_status:
            return None
        # The answer to a status query sent after the job comes only once the
        # printer has taken in every byte before it.
        status = await _query(streams, progress)
        raise_unless_ready(status, self.address.url)
        return status


async def _query(streams: _Streams, progress: _Progress) -> PrinterStatus:
    """Send DLE EOT 1..4 and decode the four answer bytes."""
    progress.stage = "waiting for the printer's status"
    reader, writer = streams
    writer.write(STATUS_QUERY)
    await writer.drain()
    return decode_status(await reader.readexactly(STATUS_REPLY_LENGTH))


async def _closing(streams: _Streams, work: Awaitable[T]) -> T:
    """Run ``work``, then close politely; on any failure drop the connection at once.

    ``abort`` rather than ``close`` on failure: ``close`` would keep unsent bytes
    queued for a printer that stopped reading.
    """
    writer = streams[1]
    try:
        result = await work
    except BaseException:
        writer.transport.abort()
        raise
    writer.close()
    with contextlib.suppress(ConnectionError):
        await writer.wait_closed()
    return result
