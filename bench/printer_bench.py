"""Printer benchmark: bytes per ticket, render time, and send time over TCP to the virtual printer.

Run: .venv/bin/python bench/printer_bench.py [--rounds N]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Callable

from printer.layout import PaperWidth
from printer.render import RenderMode, RenderOptions, render_ticket
from printer.samples import sample_ticket
from printer.transports import open_transport
from printer.virtual import VirtualPrinter

CASES: list[tuple[PaperWidth, RenderMode]] = [
    (80, "text"),
    (58, "text"),
    (80, "raster"),
    (58, "raster"),
]


def _ms(samples: list[float]) -> str:
    """Median and p95 in milliseconds."""
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return f"{statistics.median(ordered) * 1000:7.2f} / {p95 * 1000:7.2f}"


def _time(call: Callable[[], object], rounds: int) -> list[float]:
    """Wall time of each call."""
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return samples


async def _send_times(data: bytes, rounds: int) -> list[float]:
    """Wall time of each send (connect, status, job, status, close) to a virtual printer."""
    samples = []
    async with VirtualPrinter() as printer:
        transport = open_transport(printer.url)
        for _ in range(rounds):
            started = time.perf_counter()
            await transport.send(data)
            samples.append(time.perf_counter() - started)
            await printer.next_job()
    return samples


def main() -> None:
    """Print one row per paper width and mode."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=50)
    rounds = parser.parse_args().rounds
    ticket = sample_ticket()
    first = time.perf_counter()
    render_ticket(ticket, RenderOptions(mode="raster"))  # imports python-escpos, loads fonts
    print(f"first render (imports, font loading): {(time.perf_counter() - first) * 1000:.0f} ms")
    print(f"{rounds} rounds; times are median / p95 in ms")
    print(f"{'paper':>5} {'mode':>6} {'bytes':>7}  {'render':>17}  {'send over TCP':>17}")
    for width, mode in CASES:
        options = RenderOptions(mode=mode, width_mm=width)
        data = render_ticket(ticket, options).data
        render = _time(lambda options=options: render_ticket(ticket, options), rounds)
        send = asyncio.run(_send_times(data, rounds))
        print(f"{width:>3}mm {mode:>6} {len(data):>7}  {_ms(render)}  {_ms(send)}")


if __name__ == "__main__":
    main()
