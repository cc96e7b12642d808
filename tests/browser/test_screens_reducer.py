"""The browser's reducer (display/web/lib/live.js ``applyEvent``) against the Python one.

Both must turn a snapshot plus an event into the same next snapshot, and refuse the same
events (``StateMismatch``), or screens and Python clients would disagree about the hall. The
events come from the hall model the Python reducer is tested with, over a seeded random walk
through every operation, and from that test's table of events that do not fit.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest
from playwright.async_api import Page

from server.client import StateMismatch, apply_event
from tests.browser.conftest import Pages
from tests.client.hall_model import QUEUES, HallModel
from tests.client.test_client_state import MISMATCHES, _event, busy_hall

pytestmark = pytest.mark.browser

STEPS = 400

# Applies each frame in turn; an event the state refuses is reported as {"mismatch": name}.
_REDUCE = """
async ([state, frames]) => {
  const { applyEvent, StateMismatch } = await import('/static/display/lib/live.js');
  const states = [];
  for (const frame of frames) {
    try {
      state = applyEvent(state, frame);
      states.push(state);
    } catch (exc) {
      if (!(exc instanceof StateMismatch)) throw exc;
      states.push({ mismatch: exc.constructor.name });
    }
  }
  return states;
}
"""


async def _module_page(pages: Pages) -> Page:
    # Any page of the server gives the module's origin; the unpaired screen loads nothing else.
    page = await pages.open("/display/hall/jinjiang/social")
    await page.wait_for_selector("#problem:not([hidden])")
    return page


def _walk(seed: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A random but legal sequence of operations on the hall model: its start and frames."""
    rng = random.Random(seed)
    hall = HallModel()
    start = hall.snapshot()
    windows = list(hall.windows)
    ops: list[Callable[[], list[dict[str, Any]]]] = [
        lambda: hall.issue(rng.choice(list(QUEUES))),
        lambda: hall.issue(rng.choice(list(QUEUES))),
        lambda: hall.call_next(rng.choice(windows)),
        lambda: hall.recall(rng.choice(windows)),
        lambda: hall.start(rng.choice(windows)),
        lambda: hall.finish(rng.choice(windows)),
        lambda: hall.no_show(rng.choice(windows)),
        lambda: hall.transfer(rng.choice(windows), rng.choice(list(QUEUES))),
        lambda: hall.pause(rng.choice(windows)),
        lambda: hall.resume(rng.choice(windows)),
        lambda: hall.close(rng.choice(windows)),
        lambda: hall.open(rng.choice(windows)),
    ]
    missed_ops: list[Callable[[str], list[dict[str, Any]]]] = [
        hall.requeue,
        lambda n: hall.call_number(rng.choice(windows), n),
    ]
    frames: list[dict[str, Any]] = []
    for _ in range(STEPS):
        missed = hall.numbers("no_show")
        if missed and rng.random() < 0.1:
            frames += rng.choice(missed_ops)(rng.choice(missed))
        else:
            frames += rng.choice(ops)()
    return start, frames


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_the_browser_reducer_matches_the_python_one_step_by_step(
    pages: Pages, seed: int
) -> None:
    start, frames = _walk(seed)
    assert len(frames) > STEPS / 2, "the walk made too few legal moves to mean anything"
    names = {f["name"] for f in frames}
    assert {"ticket.called", "ticket.no_show", "ticket.transferred", "window.paused"} <= names

    page = await _module_page(pages)
    browser_states = await page.evaluate(_REDUCE, [start, frames])

    state: Any = start
    for frame, in_browser in zip(frames, browser_states, strict=True):
        state = apply_event(state, frame)  # type: ignore[arg-type]
        assert in_browser == state, f"after {frame['name']} seq {frame['seq']}"


async def test_the_browser_refuses_the_events_python_refuses(pages: Pages) -> None:
    page = await _module_page(pages)
    for label, name, data in MISMATCHES:
        hall = busy_hall()
        hall.expire("B001")  # as the Python test does: B has nobody waiting
        state, event = hall.snapshot(), _event(hall, name, **data)
        with pytest.raises(StateMismatch):
            apply_event(state, event)  # type: ignore[arg-type]
        [in_browser] = await page.evaluate(_REDUCE, [state, [event]])
        assert in_browser == {"mismatch": "StateMismatch"}, label
