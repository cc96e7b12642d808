"""Fixtures for the printer tests: tickets, a virtual printer, an event-loop ticker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import pytest

from printer.layout import TicketPrint
from printer.samples import sample_ticket
from printer.virtual import VirtualPrinter

T = TypeVar("T")
RARE = "𠀀䶮"  # U+20000 (GB18030 four-byte) and U+4DAE (GB18030 two-byte, not in GBK)


@pytest.fixture
def ticket() -> TicketPrint:
    """domain.md's sample ticket."""
    return sample_ticket()


@pytest.fixture
def tricky_ticket() -> TicketPrint:
    """A ticket with every hard case for the Chinese text path."""
    return replace(
        sample_ticket(),
        service=f"不动产登记（含抵押权注销、预告登记、{RARE}姓名更正）综合受理窗口",
        zone="2F East Wing 东区 (Windows 7-12)",
        materials=("。", "——", "ID card 身份证 x2 (原件)"),
    )


@pytest.fixture
async def virtual_printer(tmp_path: Path) -> AsyncIterator[VirtualPrinter]:
    """A virtual printer on 127.0.0.1 with a free port, recording jobs to tmp_path."""
    async with VirtualPrinter(tmp_path / "jobs") as printer:
        yield printer


@dataclass
class Ticker:
    """Timestamps of a task that wakes every 10 ms while the code under test runs."""

    ticks: list[float] = field(default_factory=list)

    def longest_gap(self) -> float:
        """The longest time the event loop went without running the ticker."""
        return max((b - a for a, b in zip(self.ticks, self.ticks[1:], strict=False)), default=0.0)


async def _run_with_ticker(work: Awaitable[T]) -> tuple[Ticker, asyncio.Future[T]]:
    """Await ``work`` beside a 10 ms ticker; return the ticker and the finished future."""
    ticker = Ticker()
    loop = asyncio.get_running_loop()

    async def tick() -> None:
        while True:
            ticker.ticks.append(loop.time())
            await asyncio.sleep(0.01)

    ticking = asyncio.create_task(tick())
    task = asyncio.ensure_future(work)
    await asyncio.wait([task])
    ticker.ticks.append(loop.time())
    ticking.cancel()
    return ticker, task


@pytest.fixture
def with_ticker() -> Callable[[Awaitable[Any]], Awaitable[tuple[Ticker, asyncio.Future[Any]]]]:
    """``await with_ticker(coro)`` runs coro beside a 10 ms ticker task."""
    return _run_with_ticker
