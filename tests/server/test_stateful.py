"""R15: a hypothesis state machine drives the real app over HTTP and checks it against a model.

Each example starts an empty hall (a fresh SQLite file, or the PostgreSQL test database reset),
then runs random commands through the HTTP API: issue (kiosk or guide), call next, call a
number, recall, start, finish, no-show, transfer, requeue, pause/resume, clock steps and
restarts of the app on the same database. A pure Python model predicts every answer (status,
error code, ticket fields, which ticket a call picks and why, via ``selection.choose`` fed from
the model's own queues) and, after every step, the model must equal the database, the
snapshot and the outbox. Hypothesis' swarm testing leaves some rules idle in any 25 examples,
so test_scripted_day also runs one fixed day through every command and refusal.

The fixtures of conftest.py are async and per test; a state machine runs many examples in one
test, so each example drives its own event loop and app here.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from argon2 import PasswordHasher
from hypothesis import HealthCheck, Phase, event, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select

from server.config import AppConfig, load_config
from server.domain import events
from server.domain.clock import ManualClock
from server.domain.model import (
    KLASS_NORMAL,
    KLASS_PINNED,
    KLASS_PRIORITY,
    Candidate,
    Choice,
    QueueHeads,
)
from server.domain.numbering import business_date
from server.domain.selection import choose
from server.services import auth
from server.storage.tables import counters, halls, outbox, queue_state, tickets, waiting_counts
from server.web.app import create_app
from tests.conftest import FRIDAY_10AM, PASSWORD, ROOT, need_pg, reset_postgres

T = TypeVar("T")

HALL = "jinjiang"
QUEUES = ("social", "pickup")
OTHER_QUEUE = {"social": "pickup", "pickup": "social"}
# 1 and 2 serve social, P1 serves pickup, 6 serves social then pickup (``ordered``).
WINDOWS = ("1", "2", "6", "P1")
LANES = ("normal", "elderly", "military")
ISSUED_LANES = (*LANES, "military@kiosk")
OUTCOMES = (None, "accepted", "completed", "consulted", "supplement", "rejected")
ACTIVE = ("called", "serving")
STATUSES = frozenset({"waiting", "called", "serving", "done", "no_show", "cancelled", "expired"})
MAX_ELAPSED_S = 5 * 3600  # from 10:00: stays before the 17:00 stop-issuing time
ISSUE_BATCH = st.lists(
    st.tuples(st.sampled_from(QUEUES), st.sampled_from(ISSUED_LANES)), min_size=1, max_size=3
)
RESTART_EVERY = 4  # steps between restarts (else rule 0 of the machine dominates)
AIM = st.integers(0, 3)  # commands aim at a window where they can act unless this draws 0
FIXED_REASONS = frozenset({"fifo", "guard:max_wait", "transfer", "specific", "requeue"})

SETTINGS = settings(
    # 15 runs of 30 steps on each database; HALLQ_STATEFUL_EXAMPLES raises it for a long soak
    max_examples=int(os.environ.get("HALLQ_STATEFUL_EXAMPLES", "15")),
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    # no "explain" phase: its tracer (Python < 3.12) makes shrinking a failure outlast the timeout
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
)


@dataclass
class MTicket:
    """What the model knows of one ticket."""

    id: str
    origin: str  # the queue that issued it: its number's prefix and counter row
    counter: int
    number: str
    lane: str
    lane_rank: int
    issued_at: datetime
    queue: str
    klass: int
    position: float
    status: str = "waiting"
    window: str | None = None
    called_at: datetime | None = None
    last_call: datetime | None = None
    recalls: int = 0
    requeues: int = 0
    outcome: str | None = None
    reason: str | None = None

    def order(self) -> tuple[int, int, float]:
        """Call order among the waiting tickets of its queue."""
        return (self.klass, self.lane_rank, self.position)


@dataclass
class MWindow:
    status: str = "closed"
    reason: str | None = None


class Expected(Exception):
    """Raised inside the model to predict a refusal: HTTP status and error code."""

    def __init__(self, status: int, code: str) -> None:
        super().__init__(code)
        self.status = status
        self.code = code


class HallMachine(RuleBasedStateMachine):
    """One hall, driven through HTTP, against a pure model."""

    def __init__(self, config: AppConfig, make_url: Callable[[], str], pg: bool) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.hall = config.hall(HALL)
        self.url = make_url()
        if pg:
            self.run(reset_postgres(self.url))
        self.config = replace(config, server=replace(config.server, database_url=self.url))
        self.clock = ManualClock(FRIDAY_10AM)
        self.start_at = self.clock.now()
        self.today = business_date(self.start_at, self.hall.tz)
        self.app: Any = None
        self.client: httpx.AsyncClient | None = None
        self.lifespan: Any = None
        self.started = False
        # the model
        self.tickets: dict[str, MTicket] = {}
        self.counters = dict.fromkeys(QUEUES, 0)
        self.streaks = dict.fromkeys(self.hall.queues, 0)
        self.windows = {w: MWindow() for w in WINDOWS}
        self.events: list[str] = []
        self.epoch: str | None = None
        self.steps_since_restart = 0
        self.seen: set[str] = set()
        self._start_app()
        self.tokens = self.run(self._enroll())

    # ------------------------------------------------------------------ plumbing

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coro)

    def _start_app(self) -> None:
        self.app = create_app(self.config, clock=self.clock, housekeeping=False)
        self.lifespan = self.app.router.lifespan_context(self.app)
        self.run(self.lifespan.__aenter__())
        self.started = True
        transport = httpx.ASGITransport(app=self.app)
        self.client = httpx.AsyncClient(transport=transport, base_url="http://hallq.test")

    def _stop_app(self) -> None:
        if self.client is not None:
            self.run(self.client.aclose())
            self.client = None
        if self.started:
            self.started = False
            self.run(self.lifespan.__aexit__(None, None, None))

    async def _enroll(self) -> dict[str, str]:
        now = self.clock.now()
        tokens: dict[str, str] = {}
        async with self.app.state.hallq.db.write() as conn:
            for role in ("kiosk", "display"):
                d = await auth.add_device(
                    conn, hall=HALL, role=role, name=role, window=None, zone=None, now=now
                )
                tokens[role] = d.token
            for w in WINDOWS:
                d = await auth.add_device(
                    conn, hall=HALL, role="terminal", name=f"t{w}", window=w, zone=None, now=now
                )
                tokens[f"w{w}"] = d.token
            await auth.add_staff(
                conn,
                username="guide",
                name="王小明",
                role="guide",
                hall=HALL,
                password=PASSWORD,
                now=now,
            )
            tokens["guide"], _, _ = await auth.login(conn, "guide", PASSWORD, now, 12)
        return tokens

    def teardown(self) -> None:
        try:
            self._stop_app()
        finally:
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.run_until_complete(self.loop.shutdown_default_executor())
            self.loop.close()
            if self.url.startswith("sqlite"):
                shutil.rmtree(Path(self.url.split("///", 1)[1]).parent, ignore_errors=True)

    def post(self, path: str, who: str, body: Any = None) -> tuple[int, Any]:
        assert self.client is not None
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        r = self.run(self.client.post(f"/api/v1{path}", json=body, headers=headers))
        return r.status_code, r.json()

    def window_post(self, window: str, action: str, body: Any = None) -> tuple[int, Any]:
        return self.post(f"/halls/{HALL}/windows/{window}/{action}", f"w{window}", body)

    def answer(
        self,
        got: tuple[int, Any],
        predict: Callable[[], T],
        check: Callable[[Any, T], None] = lambda body, result: None,
    ) -> None:
        """Compare a reply with the model's prediction.

        ``predict`` raises Expected for a refusal (leaving the model untouched); otherwise it
        applies the change to the model and returns what ``check`` compares with the body.
        """
        status, body = got
        label = predict.__qualname__.split(".")[1].lstrip("_")
        try:
            result = predict()
        except Expected as exp:
            self.note(f"{label}: {exp.code}")
            assert (status, body.get("error", {}).get("code")) == (exp.status, exp.code), body
            return
        self.note(f"{label}: ok")
        assert status in (200, 201), body
        check(body, result)

    def note(self, label: str) -> None:
        """Remember what a step exercised (and count it in hypothesis' statistics)."""
        self.seen.add(label)
        if currently_in_test_context():
            event(label)

    # ------------------------------------------------------------------ model helpers

    def by_number(self, number: str) -> MTicket:
        return next(t for t in self.tickets.values() if t.number == number)

    def active(self, window: str) -> MTicket | None:
        found = [t for t in self.tickets.values() if t.window == window and t.status in ACTIVE]
        assert len(found) <= 1
        return found[0] if found else None

    def waiting(self, queue: str) -> list[MTicket]:
        ts = [t for t in self.tickets.values() if t.status == "waiting" and t.queue == queue]
        return sorted(ts, key=MTicket.order)

    def waiting_ahead(self, t: MTicket) -> int:
        return sum(1 for o in self.waiting(t.queue) if o.order() < t.order())

    def emit(self, *names: str) -> None:
        self.events.extend(names)

    def open_if_closed(self, window: str) -> None:
        if self.windows[window].status == "closed":
            self.windows[window].status = "open"
            self.emit(events.WINDOW_OPENED)

    def model_choice(self, window: str) -> Choice | None:
        """What call-next must pick, by the policy, from the model's own waiting lines."""
        heads = []
        for q in self.hall.windows[window].queues:
            h = QueueHeads(q, self.hall.queues[q].policy, self.streaks[q])
            line = self.waiting(q)
            if line:
                first = line[0]
                if first.klass == KLASS_PINNED:
                    h = replace(h, pinned=_candidate(first))
                elif first.klass == KLASS_PRIORITY:
                    normal = next((t for t in line if t.klass == KLASS_NORMAL), None)
                    h = replace(
                        h,
                        priority=_candidate(first),
                        normal=_candidate(normal) if normal else None,
                    )
                else:
                    h = replace(h, normal=_candidate(first))
            heads.append(h)
        return choose(heads, self.hall.windows[window].mode, self.clock.now())

    def busy(self) -> list[str]:
        return [w for w in WINDOWS if self.active(w) is not None]

    def callable(self) -> list[str]:
        """Windows that are not paused and serve a queue where someone waits."""
        return [
            w
            for w in WINDOWS
            if self.windows[w].status != "paused"
            and any(self.waiting(q) for q in self.hall.windows[w].queues)
        ]

    def paused(self) -> list[str]:
        return [w for w in WINDOWS if self.windows[w].status == "paused"]

    def aim(self, window: str, aim: int, among: list[str]) -> str:
        """Mostly one of ``among`` (when there is one), else the drawn window."""
        return among[aim % len(among)] if among and aim else window

    def require_active(self, window: str) -> MTicket:
        t = self.active(window)
        if t is None:
            raise Expected(409, "no_active_ticket")
        return t

    def check_view(self, view: dict[str, Any], t: MTicket) -> None:
        """The Ticket JSON of a reply equals the model's ticket."""
        got = {k: view[k] for k in ("id", "number", "queue", "lane", "status", "window")}
        want = {
            "id": t.id,
            "number": t.number,
            "queue": t.queue,
            "lane": t.lane,
            "status": t.status,
            "window": t.window,
        }
        assert got == want
        assert view["recalls"] == t.recalls
        assert view["call_reason"] == t.reason
        assert view["outcome"] == t.outcome
        assert view["waiting_ahead"] == (self.waiting_ahead(t) if t.status == "waiting" else 0)
        assert view["issued_at"] == t.issued_at.isoformat()
        assert view["called_at"] == (t.called_at.isoformat() if t.called_at else None)

    # ------------------------------------------------------------------ rules

    @initialize(
        batch=st.lists(st.tuples(st.sampled_from(QUEUES), st.sampled_from(LANES)), max_size=8)
    )
    def morning(self, batch: list[tuple[str, str]]) -> None:
        """The hall opens with some tickets already waiting, whichever rules this example runs."""
        for queue, lane in batch:
            self._issue_one(queue, lane)

    @rule(batch=ISSUE_BATCH)
    def issue(self, batch: list[tuple[str, str]]) -> None:
        """Kiosks issue normal tickets, the guide desk the priority lanes: numbers count up."""
        for queue, lane in batch:
            self._issue_one(queue, lane)

    def _issue_one(self, queue: str, lane: str) -> None:
        if lane == "military@kiosk":  # a kiosk may not issue it: 403, nothing changes
            body = {"queue": queue, "lane": "military"}
            got = self.post(f"/halls/{HALL}/tickets", "kiosk", body)
            assert got[0] == 403 and got[1]["error"]["code"] == "lane_not_allowed", got
            self.note("issue: lane_not_allowed")
            return
        who = "kiosk" if lane == "normal" else "guide"
        status, view = self.post(f"/halls/{HALL}/tickets", who, {"queue": queue, "lane": lane})
        assert status == 201, view
        self.counters[queue] += 1
        n = self.counters[queue]
        t = MTicket(
            id=view["id"],
            origin=queue,
            counter=n,
            number=f"{self.hall.queues[queue].prefix}{n:03d}",
            lane=lane,
            lane_rank=self.hall.lanes[lane].rank,
            issued_at=self.clock.now(),
            queue=queue,
            klass=KLASS_NORMAL if lane == "normal" else KLASS_PRIORITY,
            position=float(n),
        )
        assert t.id not in self.tickets
        self.tickets[t.id] = t
        self.emit(events.TICKET_ISSUED)
        self.check_view(view, t)

    @rule(window=st.sampled_from(WINDOWS), aim=AIM, finish_current=st.booleans())
    def call_next(self, window: str, aim: int, finish_current: bool) -> None:
        """Call-next picks what the policy says, or refuses on a busy or paused window."""
        window = self.aim(window, aim, self.callable())

        def predict() -> MTicket | None:
            if self.windows[window].status == "paused":
                raise Expected(409, "window_paused")
            current = self.active(window)
            if current is not None and not finish_current:
                raise Expected(409, "window_busy")
            self.open_if_closed(window)
            if current is not None:
                current.status, current.outcome = "done", "completed"
                self.emit(events.TICKET_FINISHED)
            choice = self.model_choice(window)
            if choice is None:
                return None
            t = self.tickets[choice.candidate.ticket_id]
            self._called(t, window, choice.reason)
            self.streaks[t.queue] = choice.streak
            return t

        got = self.window_post(window, "call-next", {"finish_current": finish_current})
        self.answer(got, predict, self._check_called)

    def _called(self, t: MTicket, window: str, reason: str) -> None:
        t.status, t.window, t.reason = "called", window, reason
        t.called_at = t.last_call = self.clock.now()
        t.recalls = 0
        t.outcome = None
        self.emit(events.TICKET_CALLED)

    def _check_ticket(self, body: Any, t: MTicket) -> None:
        self.check_view(body["ticket"], t)

    def _check_called(self, body: Any, t: MTicket | None) -> None:
        view = body["ticket"]
        if t is None:
            assert view is None
            self.note("call: nobody waiting")
            return
        self.note(f"call reason: {t.reason}")
        assert view is not None, f"expected {t.number} to be called"
        reason = view["call_reason"]
        assert reason in FIXED_REASONS or reason.removeprefix("priority:") in LANES, reason
        self.check_view(view, t)

    @rule(window=st.sampled_from(WINDOWS), pick=st.integers(0, 10**6))
    def call_number(self, window: str, pick: int) -> None:
        """Calling a number works for a waiting or missed ticket, at an idle unpaused window."""
        if self.tickets:
            self._call_number(window, list(self.tickets.values())[pick % len(self.tickets)])

    def _call_number(self, window: str, t: MTicket) -> None:

        def predict() -> MTicket:
            if self.windows[window].status == "paused":
                raise Expected(409, "window_paused")
            if self.active(window) is not None:
                raise Expected(409, "window_busy")
            if t.status not in ("waiting", "no_show"):
                raise Expected(409, "invalid_transition")
            self.open_if_closed(window)
            self._called(t, window, "specific")
            return t

        got = self.window_post(window, "call", {"number": t.number})
        self.answer(got, predict, self._check_called)

    @precondition(lambda self: bool(self.busy()))
    @rule(window=st.sampled_from(WINDOWS), aim=AIM, wait=st.booleans())
    def recall(self, window: str, aim: int, wait: bool) -> None:
        """Recall works on a called ticket, after the cooldown, up to the hall's limit."""
        self._recall(self.aim(window, aim, self.busy()), wait)

    def _recall(self, window: str, wait: bool) -> None:
        rules = self.hall.rules
        if wait and self.elapsed() < MAX_ELAPSED_S:
            self.clock.advance(rules.recall_cooldown_s + 1)

        def predict() -> MTicket:
            t = self.require_active(window)
            if t.status != "called":
                raise Expected(409, "invalid_transition")
            if t.recalls >= rules.recall_limit:
                raise Expected(409, "recall_limit")
            assert t.last_call is not None
            if (self.clock.now() - t.last_call).total_seconds() < rules.recall_cooldown_s:
                raise Expected(409, "recall_cooldown")
            t.recalls += 1
            t.last_call = self.clock.now()
            self.emit(events.TICKET_RECALLED)
            return t

        got = self.window_post(window, "recall")
        self.answer(got, predict, self._check_ticket)

    @precondition(lambda self: bool(self.busy()))
    @rule(window=st.sampled_from(WINDOWS), aim=AIM)
    def start(self, window: str, aim: int) -> None:
        """Start turns the window's called ticket into serving."""
        self._start(self.aim(window, aim, self.busy()))

    def _start(self, window: str) -> None:
        def predict() -> MTicket:
            t = self.require_active(window)
            if t.status != "called":
                raise Expected(409, "invalid_transition")
            t.status = "serving"
            self.emit(events.TICKET_SERVING)
            return t

        got = self.window_post(window, "start")
        self.answer(got, predict, self._check_ticket)

    @precondition(lambda self: bool(self.busy()))
    @rule(window=st.sampled_from(WINDOWS), aim=AIM, outcome=st.sampled_from(OUTCOMES))
    def finish(self, window: str, aim: int, outcome: str | None) -> None:
        """Finish ends the window's ticket with an outcome (default completed)."""
        self._finish(self.aim(window, aim, self.busy()), outcome)

    def _finish(self, window: str, outcome: str | None) -> None:
        def predict() -> MTicket:
            t = self.require_active(window)
            t.status, t.outcome = "done", outcome or "completed"
            self.emit(events.TICKET_FINISHED)
            return t

        got = self.window_post(window, "finish", {"outcome": outcome} if outcome else {})
        self.answer(got, predict, self._check_ticket)

    @precondition(lambda self: bool(self.busy()))
    @rule(window=st.sampled_from(WINDOWS), aim=AIM)
    def no_show(self, window: str, aim: int) -> None:
        """No-show marks the window's ticket missed."""
        self._no_show(self.aim(window, aim, self.busy()))

    def _no_show(self, window: str) -> None:
        def predict() -> MTicket:
            t = self.require_active(window)
            t.status = "no_show"
            self.emit(events.TICKET_NO_SHOW)
            return t

        got = self.window_post(window, "no-show")
        self.answer(got, predict, self._check_ticket)

    @precondition(lambda self: bool(self.busy()))
    @rule(window=st.sampled_from(WINDOWS), aim=AIM)
    def transfer(self, window: str, aim: int) -> None:
        """Transfer sends the window's ticket to the front of the other queue."""
        self._transfer(self.aim(window, aim, self.busy()))

    def _transfer(self, window: str) -> None:
        def predict() -> MTicket:
            t = self.require_active(window)
            target = OTHER_QUEUE[t.queue]
            line = self.waiting(target)
            position = min(o.position for o in line) - 1.0 if line else 0.0
            self._back_to_waiting(t, position)
            t.queue, t.klass = target, KLASS_PINNED
            self.emit(events.TICKET_TRANSFERRED)
            return t

        current = self.active(window)
        body = {"queue": OTHER_QUEUE[current.queue] if current else "social"}
        got = self.window_post(window, "transfer", body)
        self.answer(got, predict, self._check_ticket)

    def _back_to_waiting(self, t: MTicket, position: float) -> None:
        t.status, t.window, t.position = "waiting", None, position
        t.called_at = t.last_call = None
        t.recalls, t.outcome, t.reason = 0, None, None

    @precondition(lambda self: bool(self.tickets))
    @rule(pick=st.integers(0, 10**6), missed_only=st.integers(0, 3))
    def requeue(self, pick: int, missed_only: int) -> None:
        """The guide desk re-queues a missed ticket (mostly) or is refused for another one."""
        missed = [t for t in self.tickets.values() if t.status == "no_show"]
        pool = missed if missed and missed_only else list(self.tickets.values())
        self._requeue(pool[pick % len(pool)])

    def _requeue(self, t: MTicket) -> None:
        rules = self.hall.rules

        def predict() -> MTicket:
            if t.status != "no_show":
                raise Expected(409, "invalid_transition")
            if t.requeues >= rules.requeue_per_day:
                raise Expected(409, "requeue_limit")
            klass = KLASS_NORMAL if t.lane == "normal" else KLASS_PRIORITY
            same = [
                o.position
                for o in self.waiting(t.queue)
                if o.klass == klass and o.lane_rank == t.lane_rank
            ]
            n = rules.requeue_after
            if not same:
                position = 0.0
            elif n >= len(same):  # last in line, yet before the next ticket issued
                upcoming = float(self.counters[t.queue] + 1)
                position = (same[-1] + upcoming) / 2 if upcoming > same[-1] else same[-1] + 1
            else:
                position = (same[n - 1] + same[n]) / 2.0
            self._back_to_waiting(t, position)
            t.klass = klass
            t.requeues += 1
            self.emit(events.TICKET_REQUEUED)
            return t

        got = self.post(f"/tickets/{t.id}/requeue", "guide")
        self.answer(got, predict, self.check_view)

    @precondition(lambda self: len(self.paused()) < 2)
    @rule(window=st.sampled_from(WINDOWS), reason=st.sampled_from(["午休", "系统维护"]))
    def pause(self, window: str, reason: str) -> None:
        """A window can be paused with a reason at any time (also while it has a ticket)."""
        status, body = self.window_post(window, "pause", {"reason": reason})
        assert status == 200, body
        self.windows[window] = MWindow("paused", reason)
        self.emit(events.WINDOW_PAUSED)
        assert (body["status"], body["reason"]) == ("paused", reason)

    @precondition(lambda self: bool(self.paused()))
    @rule(window=st.sampled_from(WINDOWS), aim=AIM)
    def resume(self, window: str, aim: int) -> None:
        """Resume reopens a paused window and refuses any other."""
        self._resume(self.aim(window, aim, self.paused()))

    def _resume(self, window: str) -> None:

        def predict() -> None:
            if self.windows[window].status != "paused":
                raise Expected(409, "window_not_paused")
            self.windows[window] = MWindow("open", None)
            self.emit(events.WINDOW_RESUMED)

        got = self.window_post(window, "resume")
        self.answer(got, predict)

    @precondition(lambda self: self.elapsed() < MAX_ELAPSED_S)
    @rule(seconds=st.sampled_from([1, 30, 600, 1000, 2000]))
    def time_passes(self, seconds: int) -> None:
        """Time passes (cooldowns run out, the max-wait guard may fire)."""
        self.clock.advance(seconds)

    @precondition(lambda self: self.steps_since_restart >= RESTART_EVERY)
    @rule()
    def restart(self) -> None:
        """The server stops and a fresh app starts on the same database: state survives."""
        self._stop_app()
        self._start_app()
        self.steps_since_restart = 0

    def elapsed(self) -> float:
        return (self.clock.now() - self.start_at).total_seconds()

    # ------------------------------------------------------------------ invariants

    @invariant()
    def model_equals_db_and_snapshot(self) -> None:
        """After every step: model == DB == snapshot, and the structural invariants hold."""
        self.run(self._check_db())
        self._check_snapshot()
        self.steps_since_restart += 1

    async def _check_db(self) -> None:
        db = self.app.state.hallq.db
        async with db.read() as conn:
            rows = (await conn.execute(select(tickets).where(tickets.c.hall_id == HALL))).all()
            counter_rows = (
                await conn.execute(select(counters).where(counters.c.hall_id == HALL))
            ).all()
            streaks = dict(
                (
                    await conn.execute(
                        select(queue_state.c.queue_id, queue_state.c.priority_streak).where(
                            queue_state.c.hall_id == HALL
                        )
                    )
                ).all()
            )
            seqs = (
                await conn.execute(
                    select(outbox.c.seq, outbox.c.name, outbox.c.epoch)
                    .where(outbox.c.hall_id == HALL)
                    .order_by(outbox.c.seq)
                )
            ).all()
            hall_row = (await conn.execute(select(halls).where(halls.c.id == HALL))).one()
            w = waiting_counts.c
            kept = (
                await conn.execute(
                    select(w.queue_id, w.klass, w.lane_rank, w.n).where(w.hall_id == HALL)
                )
            ).all()

        # the triggers' waiting counts equal the waiting tickets (people ahead at issue)
        want_counts = Counter(
            (r.queue_id, r.klass, r.lane_rank) for r in rows if r.status == "waiting"
        )
        assert {(q, k, rank): n for q, k, rank, n in kept if n} == dict(want_counts)

        # each ticket in exactly one (valid) state, and the row equals the model
        assert {r.id for r in rows} == set(self.tickets)
        for r in rows:
            t = self.tickets[r.id]
            assert r.status in STATUSES
            got = (r.status, r.queue_id, r.number, r.window_id, r.recalls, r.requeues)
            assert got == (t.status, t.queue, t.number, t.window, t.recalls, t.requeues), t
            assert (r.lane, r.klass, r.position, r.counter) == (
                t.lane,
                t.klass,
                t.position,
                t.counter,
            ), t
            assert (r.outcome, r.call_reason) == (t.outcome, t.reason), t
            assert r.issued_at == t.issued_at and r.called_at == t.called_at, t
            if r.status == "waiting":
                assert r.window_id is None and r.called_at is None, t
            if r.status in ACTIVE:
                assert r.window_id is not None and r.called_at is not None, t
        # at most one active ticket per window
        active = [r.window_id for r in rows if r.status in ACTIVE]
        assert len(active) == len(set(active)), active
        # the waiting tickets of a queue have one strict call order (no ties)
        for q in QUEUES:
            keys = [t.order() for t in self.waiting(q)]
            assert len(keys) == len(set(keys)), f"tied call order in {q}: {keys}"
        # numbers per (queue, day) contiguous from 1, and the counter rows agree
        for q in QUEUES:
            got_counters = sorted(
                r.counter for r in rows if r.number.startswith(self.hall.queues[q].prefix)
            )
            assert got_counters == list(range(1, self.counters[q] + 1)), (q, got_counters)
        assert {(c.queue_id, c.business_date, c.value) for c in counter_rows} == {
            (q, self.today, n) for q, n in self.counters.items() if n
        }
        assert streaks == self.streaks
        # outbox: gapless seq 1..N, one epoch, the events the model expects, hall row at N
        assert [s.seq for s in seqs] == list(range(1, len(seqs) + 1))
        assert [s.name for s in seqs] == self.events
        assert hall_row.seq == len(self.events)
        if self.epoch is None:
            self.epoch = hall_row.epoch
        assert hall_row.epoch == self.epoch and {s.epoch for s in seqs} <= {self.epoch}

    def _check_snapshot(self) -> None:
        assert self.client is not None
        headers = {"Authorization": f"Bearer {self.tokens['display']}"}
        r = self.run(self.client.get(f"/api/v1/halls/{HALL}/snapshot", headers=headers))
        assert r.status_code == 200, r.text
        snap = r.json()
        assert snap["seq"] == len(self.events) and snap["epoch"] == self.epoch
        assert snap["business_date"] == self.today.isoformat()
        for w in snap["windows"]:
            model = self.windows.get(w["id"], MWindow())
            assert (w["status"], w["reason"]) == (model.status, model.reason), w
            t = self.active(w["id"]) if w["id"] in self.windows else None
            if t is None:
                assert w["ticket"] is None, w
            else:
                assert t.called_at is not None
                assert w["ticket"] == {
                    "number": t.number,
                    "status": t.status,
                    "called_at": t.called_at.isoformat(),
                    "recalls": t.recalls,
                }
        now = self.clock.now()
        for q in snap["queues"]:
            line = self.waiting(q["id"]) if q["id"] in QUEUES else []
            longest = int((now - min(t.issued_at for t in line)).total_seconds()) if line else 0
            assert (q["waiting"], q["longest_wait_s"]) == (len(line), longest), q
        missed = sorted(t.number for t in self.tickets.values() if t.status == "no_show")
        assert sorted(snap["missed"]) == missed


def _candidate(t: MTicket) -> Candidate:
    return Candidate(
        ticket_id=t.id,
        queue=t.queue,
        lane=t.lane,
        lane_rank=t.lane_rank,
        klass=t.klass,
        position=t.position,
        issued_at=t.issued_at,
        requeued=t.requeues > 0,
    )


# What the scripted day must exercise, whatever hypothesis draws in the random runs.
SCRIPT_COVERS = frozenset(
    {
        "issue: lane_not_allowed",
        "call_next: window_busy",
        "call_next: window_paused",
        "call_number: window_busy",
        "call_number: window_paused",
        "call_number: ok",
        "recall: recall_cooldown",
        "recall: ok",
        "recall: recall_limit",
        "recall: invalid_transition",
        "start: invalid_transition",
        "finish: no_active_ticket",
        "no_show: ok",
        "transfer: ok",
        "requeue: ok",
        "requeue: invalid_transition",
        "requeue: requeue_limit",
        "resume: ok",
        "resume: window_not_paused",
        "call: nobody waiting",
        *(
            f"call reason: {r}"
            for r in (
                "fifo",
                "priority:military",
                "priority:elderly",
                "transfer",
                "requeue",
                "specific",
                "guard:max_wait",
            )
        ),
    }
)


def scripted_day(m: HallMachine) -> None:
    """Every command and refusal once, checking the invariants after each step."""
    n = m.by_number
    steps: list[Callable[[], None]] = [
        lambda: m.issue([("social", "normal")] * 3),  # A001-A003
        lambda: m.issue([("social", "elderly"), ("social", "military"), ("social", "elderly")]),
        lambda: m.issue(
            [("social", "military@kiosk"), ("pickup", "normal"), ("pickup", "elderly")]
        ),
        lambda: m.call_next("1", 0, False),  # A005 priority:military
        lambda: m.call_next("1", 0, False),  # window_busy
        lambda: m._recall("1", False),  # recall_cooldown
        lambda: m._recall("1", True),
        lambda: m._recall("1", True),
        lambda: m._recall("1", True),  # recall_limit
        lambda: m._start("1"),
        lambda: m._start("1"),  # invalid_transition
        lambda: m._recall("1", True),  # invalid_transition (serving)
        lambda: m.call_next("2", 0, False),  # A004 priority:elderly, streak 2
        lambda: m.call_next("6", 0, False),  # interleave: A001 fifo
        lambda: m._transfer("1"),  # A005 to the front of pickup
        lambda: m.call_next("P1", 0, False),  # A005 transfer
        lambda: m._no_show("P1"),
        lambda: m._requeue(n("A005")),
        lambda: m._requeue(n("A001")),  # invalid_transition (called)
        lambda: m._finish("6", "accepted"),
        lambda: m._finish("6", None),  # no_active_ticket
        lambda: m.call_next("P1", 0, True),  # A005 requeue
        lambda: m._no_show("P1"),
        lambda: m._requeue(n("A005")),  # requeue_limit
        lambda: m.pause("6", "午休"),
        lambda: m.call_next("6", 0, True),  # window_paused
        lambda: m._call_number("6", n("A002")),  # window_paused
        lambda: m._resume("6"),
        lambda: m._resume("6"),  # window_not_paused
        lambda: m._call_number("6", n("A005")),  # a missed ticket, specific
        lambda: m._call_number("6", n("A002")),  # window_busy
        lambda: m.restart(),
        lambda: m.call_next("6", 0, True),  # A006 priority:elderly
        lambda: m.time_passes(2000),
        lambda: m.issue([("social", "military")]),  # A007, after A002 waited 2000 s
        lambda: m.call_next("2", 0, True),  # A002 guard:max_wait
        lambda: m.issue([("social", "normal")]),  # A008
        lambda: m._no_show("2"),
        lambda: m._requeue(n("A002")),  # last in line, before the next issue
        lambda: m.issue([("social", "normal")]),  # A009 after A002
        lambda: m.restart(),
        *[lambda: m.call_next("1", 0, True)] * 6,  # drain social to "nobody waiting"
        *[lambda: m.call_next("P1", 0, True)] * 3,
    ]
    for step in steps:
        step()
        m.model_equals_db_and_snapshot()
    missing = SCRIPT_COVERS - m.seen
    assert not missing, sorted(missing)


def machine(config: AppConfig, make_url: Callable[[], str], pg: bool) -> type[HallMachine]:
    """HallMachine bound to a config and database, as hypothesis wants a class to call."""

    class Machine(HallMachine):
        def __init__(self) -> None:
            super().__init__(config, make_url, pg)

    return Machine


@pytest.fixture
def config(monkeypatch: pytest.MonkeyPatch) -> AppConfig:
    """The shipped config; each example enrolls a guide, so Argon2 runs at its minimum cost."""
    monkeypatch.setattr(auth, "HASHER", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    return load_config(ROOT / "config.toml")


@pytest.mark.timeout(600)  # a pass takes ~25 s; shrinking a failure can take minutes
def test_stateful_sqlite(config: AppConfig, tmp_path: Path) -> None:
    """Random command sequences on SQLite keep model, database, snapshot and outbox equal."""

    def make_url() -> str:
        return f"sqlite+aiosqlite:///{tempfile.mkdtemp(dir=tmp_path)}/hallq.db"

    run_state_machine_as_test(machine(config, make_url, pg=False), settings=SETTINGS)


@pytest.mark.timeout(600)  # a pass takes ~25 s; shrinking a failure can take minutes
def test_stateful_postgres(config: AppConfig) -> None:
    """Random command sequences on PostgreSQL keep model, database, snapshot and outbox equal."""
    url = need_pg()
    run_state_machine_as_test(machine(config, lambda: url, pg=True), settings=SETTINGS)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_scripted_day(config: AppConfig, tmp_path: Path, backend: str) -> None:
    """A fixed day through every command and refusal keeps model, DB, snapshot and outbox equal."""
    url = need_pg() if backend == "postgres" else f"sqlite+aiosqlite:///{tmp_path}/hallq.db"
    m = HallMachine(config, lambda: url, pg=backend == "postgres")
    try:
        m.model_equals_db_and_snapshot()
        scripted_day(m)
    finally:
        m.teardown()
