"""Bad requests (R12 and issue 2): the documented status and code, and no state change.

Each case prepares the hall (``setup``), takes the display's snapshot plus every stored row
except the audit log, sends one bad request, and checks the answer and that nothing changed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update

from server.services import auth
from server.storage.tables import counters
from tests.conftest import Hall
from tests.server.support import assert_error, audit_rows, cheap_passwords, hall_state

SHANGHAI = ZoneInfo("Asia/Shanghai")
Ctx = dict[str, str]
Setup = Callable[[Hall, Ctx], Awaitable[None]]


@dataclass(frozen=True)
class Bad:
    """One bad request and its documented answer."""

    id: str
    method: str
    path: str  # formatted with the setup's ctx, e.g. {ticket}
    who: str | None
    status: int
    code: str
    json: Any = None
    raw: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    setup: Setup | None = None


# --- setups -----------------------------------------------------------------------------------


async def one_waiting(h: Hall, ctx: Ctx) -> None:
    ctx["ticket"] = (await h.issue("social"))["id"]


async def called_at_1(h: Hall, ctx: Ctx) -> None:
    await one_waiting(h, ctx)
    await h.issue("social")
    await h.call_next("1")


async def serving_at_1(h: Hall, ctx: Ctx) -> None:
    await called_at_1(h, ctx)
    r = await h.post("/halls/jinjiang/windows/1/start", "w1")
    assert r.status_code == 200, r.text


async def finished_at_1(h: Hall, ctx: Ctx) -> None:
    await serving_at_1(h, ctx)
    r = await h.post("/halls/jinjiang/windows/1/finish", "w1", {"outcome": "accepted"})
    assert r.status_code == 200, r.text


async def finished_at_2(h: Hall, ctx: Ctx) -> None:
    ctx["ticket"] = (await h.issue("social"))["id"]
    await h.call_next("2")
    r = await h.post("/halls/jinjiang/windows/2/finish", "w2")
    assert r.status_code == 200, r.text


async def evaluated(h: Hall, ctx: Ctx) -> None:
    await finished_at_1(h, ctx)
    r = await h.post(f"/tickets/{ctx['ticket']}/evaluation", "evaluator1", {"rating": 5})
    assert r.status_code == 201, r.text


async def keyed_issue(h: Hall, ctx: Ctx) -> None:
    r = await h.post("/halls/jinjiang/tickets", "kiosk", {"queue": "social"}, key="press-1")
    assert r.status_code == 201, r.text


async def staff_token_expired(h: Hall, ctx: Ctx) -> None:
    h.clock.advance(12 * 3600 + 1)  # staff_token_ttl_h = 12


async def w1_revoked(h: Hall, ctx: Ctx) -> None:
    await one_waiting(h, ctx)
    who = (await h.client.get("/api/v1/auth/me", headers=h.auth("w1"))).json()
    async with h.db.write() as conn:
        await auth.revoke_device(conn, who["id"], h.clock.now())


async def w1_paused(h: Hall, ctx: Ctx) -> None:
    await one_waiting(h, ctx)
    r = await h.post("/halls/jinjiang/windows/1/pause", "w1", {"reason": "系统维护"})
    assert r.status_code == 200, r.text


async def project_cap_used(h: Hall, ctx: Ctx) -> None:
    await h.issue("project")
    async with h.db.write() as conn:  # as if B001..B150 were issued today (daily_cap = 150)
        await conn.execute(
            update(counters).where(counters.c.queue_id == "project").values(value=150)
        )


async def after_stop_issuing(h: Hall, ctx: Ctx) -> None:
    await one_waiting(h, ctx)
    h.clock.set(datetime(2026, 11, 27, 17, 0, 1, tzinfo=SHANGHAI))  # social stops at 17:00


async def on_sunday(h: Hall, ctx: Ctx) -> None:
    h.clock.set(datetime(2026, 11, 29, 10, 0, tzinfo=SHANGHAI))


async def missed_ticket(h: Hall, ctx: Ctx) -> None:
    await called_at_1(h, ctx)
    r = await h.post("/halls/jinjiang/windows/1/no-show", "w1")
    assert r.status_code == 200, r.text


ISSUE = "/halls/jinjiang/tickets"
W1 = "/halls/jinjiang/windows/1"
P = "POST"


@pytest.fixture(autouse=True)
def _cheap_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    cheap_passwords(monkeypatch)


CASES = [
    # wrong JSON types
    Bad("queue_int", P, ISSUE, "kiosk", 400, "validation_error", json={"queue": 5}),
    Bad(
        "lane_null",
        P,
        ISSUE,
        "kiosk",
        400,
        "validation_error",
        json={"queue": "social", "lane": None},
    ),
    Bad(
        "finish_current_str",
        P,
        f"{W1}/call-next",
        "w1",
        400,
        "validation_error",
        json={"finish_current": "yes"},
        setup=called_at_1,
    ),
    Bad(
        "rating_str",
        P,
        "/tickets/{ticket}/evaluation",
        "evaluator1",
        400,
        "validation_error",
        json={"rating": "5"},
        setup=finished_at_1,
    ),
    Bad(
        "reasons_not_list",
        P,
        "/tickets/{ticket}/evaluation",
        "evaluator1",
        400,
        "validation_error",
        json={"rating": 4, "reasons": "slow"},
        setup=finished_at_1,
    ),
    Bad(
        "outcome_unknown",
        P,
        f"{W1}/finish",
        "w1",
        400,
        "validation_error",
        json={"outcome": "great"},
        setup=called_at_1,
    ),
    Bad(
        "channel_unknown",
        P,
        ISSUE,
        "kiosk",
        400,
        "validation_error",
        json={"queue": "social", "channel": "fax"},
    ),
    Bad(
        "number_malformed",
        P,
        f"{W1}/call",
        "w1",
        400,
        "validation_error",
        json={"number": "A-1; drop"},
    ),
    # unknown things
    Bad(
        "unknown_hall",
        P,
        "/halls/nowhere/tickets",
        "kiosk",
        404,
        "hall_not_found",
        json={"queue": "social"},
    ),
    Bad("unknown_queue", P, ISSUE, "kiosk", 404, "queue_not_found", json={"queue": "taxes"}),
    Bad(
        "unknown_lane",
        P,
        ISSUE,
        "guide",
        404,
        "lane_not_found",
        json={"queue": "social", "lane": "vip"},
    ),
    Bad("unknown_service", P, ISSUE, "kiosk", 404, "service_not_found", json={"service": "Z99"}),
    Bad(
        "unknown_window",
        P,
        "/halls/jinjiang/windows/99/call-next",
        "manager",
        404,
        "window_not_found",
        json={},
        setup=one_waiting,
    ),
    Bad("unknown_ticket_requeue", P, "/tickets/nope/requeue", "guide", 404, "ticket_not_found"),
    Bad(
        "unknown_ticket_get", "GET", "/tickets/0123456789abcdef", "display", 404, "ticket_not_found"
    ),
    Bad(
        "unknown_number",
        P,
        f"{W1}/call",
        "w1",
        404,
        "ticket_not_found",
        json={"number": "A999"},
        setup=one_waiting,
    ),
    Bad(
        "transfer_unknown_queue",
        P,
        f"{W1}/transfer",
        "w1",
        404,
        "queue_not_found",
        json={"queue": "taxes"},
        setup=called_at_1,
    ),
    Bad("unknown_route", P, f"{W1}/dance", "w1", 404, "not_found"),
    # missing and extra fields, bad bodies
    Bad(
        "call_without_number",
        P,
        f"{W1}/call",
        "w1",
        400,
        "validation_error",
        json={},
        setup=one_waiting,
    ),
    Bad("pause_without_reason", P, f"{W1}/pause", "w1", 400, "validation_error", json={}),
    Bad(
        "pause_blank_reason",
        P,
        f"{W1}/pause",
        "w1",
        400,
        "validation_error",
        json={"reason": "   "},
    ),
    Bad("issue_without_queue", P, ISSUE, "kiosk", 400, "validation_error", json={}),
    Bad(
        "transfer_without_target",
        P,
        f"{W1}/transfer",
        "w1",
        400,
        "validation_error",
        json={},
        setup=called_at_1,
    ),
    Bad(
        "extra_field",
        P,
        ISSUE,
        "kiosk",
        400,
        "validation_error",
        json={"queue": "social", "colour": "red"},
    ),
    Bad(
        "evaluation_without_rating",
        P,
        "/tickets/{ticket}/evaluation",
        "evaluator1",
        400,
        "validation_error",
        json={"comment": "好"},
        setup=finished_at_1,
    ),
    Bad("invalid_json", P, ISSUE, "kiosk", 400, "invalid_json", raw=b'{"queue": "social"'),
    Bad("invalid_utf8", P, ISSUE, "kiosk", 400, "invalid_json", raw=b'{"queue": "\xff\xfe"}'),
    Bad("non_object_json", P, ISSUE, "kiosk", 400, "validation_error", json=["social"]),
    Bad(
        "one_mib_body",
        P,
        ISSUE,
        "kiosk",
        400,
        "body_too_large",
        raw=b'{"queue": "' + b"a" * (1 << 20) + b'"}',
    ),
    # roles, halls and windows
    Bad(
        "kiosk_military",
        P,
        ISSUE,
        "kiosk",
        403,
        "lane_not_allowed",
        json={"queue": "social", "lane": "military"},
    ),
    Bad(
        "terminal_other_window",
        P,
        "/halls/jinjiang/windows/5/call-next",
        "w3",
        403,
        "wrong_window",
        json={},
        setup=one_waiting,
    ),
    Bad(
        "staff_without_window",
        P,
        f"{W1}/call-next",
        "clerk",
        403,
        "wrong_window",
        json={},
        setup=one_waiting,
    ),
    Bad("foreign_kiosk", P, ISSUE, "kiosk_laocheng", 403, "wrong_hall", json={"queue": "social"}),
    Bad(
        "display_calls",
        P,
        f"{W1}/call-next",
        "display",
        403,
        "forbidden",
        json={},
        setup=one_waiting,
    ),
    Bad("display_issues", P, ISSUE, "display", 403, "forbidden", json={"queue": "social"}),
    Bad(
        "kiosk_cancels", P, "/tickets/{ticket}/cancel", "kiosk", 403, "forbidden", setup=one_waiting
    ),
    Bad(
        "kiosk_requeues",
        P,
        "/tickets/{ticket}/requeue",
        "kiosk",
        403,
        "forbidden",
        setup=missed_ticket,
    ),
    Bad(
        "evaluator_other_window",
        P,
        "/tickets/{ticket}/evaluation",
        "evaluator1",
        403,
        "wrong_window",
        json={"rating": 5},
        setup=finished_at_2,
    ),
    Bad("foreign_snapshot", "GET", "/halls/jinjiang/snapshot", "kiosk_laocheng", 403, "wrong_hall"),
    # authentication
    Bad("no_token", P, ISSUE, None, 401, "unauthorized", json={"queue": "social"}),
    Bad(
        "garbage_token",
        P,
        ISSUE,
        None,
        401,
        "unauthorized",
        json={"queue": "social"},
        headers={"Authorization": "Bearer hqd_not-a-real-token"},
    ),
    Bad("no_token_snapshot", "GET", "/halls/jinjiang/snapshot", None, 401, "unauthorized"),
    Bad(
        "expired_staff_token",
        P,
        ISSUE,
        "guide",
        401,
        "unauthorized",
        json={"queue": "social"},
        setup=staff_token_expired,
    ),
    Bad(
        "revoked_device", P, f"{W1}/call-next", "w1", 401, "unauthorized", json={}, setup=w1_revoked
    ),
    # conflicts
    Bad("recall_nothing", P, f"{W1}/recall", "w1", 409, "no_active_ticket"),
    Bad("start_nothing", P, f"{W1}/start", "w1", 409, "no_active_ticket"),
    Bad(
        "call_next_busy",
        P,
        f"{W1}/call-next",
        "w1",
        409,
        "window_busy",
        json={},
        setup=called_at_1,
        headers={"Idempotency-Key": "busy-1"},
    ),
    Bad(
        "call_number_busy",
        P,
        f"{W1}/call",
        "w1",
        409,
        "window_busy",
        json={"number": "A002"},
        setup=called_at_1,
    ),
    Bad("close_busy", P, f"{W1}/close", "w1", 409, "window_busy", setup=called_at_1),
    Bad("start_twice", P, f"{W1}/start", "w1", 409, "invalid_transition", setup=serving_at_1),
    Bad("recall_serving", P, f"{W1}/recall", "w1", 409, "invalid_transition", setup=serving_at_1),
    Bad(
        "requeue_waiting",
        P,
        "/tickets/{ticket}/requeue",
        "guide",
        409,
        "invalid_transition",
        setup=one_waiting,
    ),
    Bad(
        "evaluate_waiting",
        P,
        "/tickets/{ticket}/evaluation",
        "manager",
        409,
        "invalid_transition",
        json={"rating": 5},
        setup=one_waiting,
    ),
    Bad(
        "call_next_paused",
        P,
        f"{W1}/call-next",
        "w1",
        409,
        "window_paused",
        json={},
        setup=w1_paused,
    ),
    Bad("resume_not_paused", P, f"{W1}/resume", "w1", 409, "window_not_paused", setup=called_at_1),
    Bad(
        "second_evaluation",
        P,
        "/tickets/{ticket}/evaluation",
        "evaluator1",
        409,
        "already_evaluated",
        json={"rating": 1, "comment": "again"},
        setup=evaluated,
    ),
    Bad(
        "daily_cap",
        P,
        ISSUE,
        "kiosk",
        409,
        "daily_cap_reached",
        json={"queue": "project"},
        setup=project_cap_used,
    ),
    Bad(
        "stop_issuing",
        P,
        ISSUE,
        "kiosk",
        409,
        "issuing_stopped",
        json={"queue": "social"},
        setup=after_stop_issuing,
    ),
    Bad("sunday", P, ISSUE, "kiosk", 409, "hall_closed", json={"queue": "social"}, setup=on_sunday),
    # bad values
    Bad(
        "rating_six",
        P,
        "/tickets/{ticket}/evaluation",
        "evaluator1",
        400,
        "validation_error",
        json={"rating": 6},
        setup=finished_at_1,
    ),
    Bad(
        "rating_zero",
        P,
        "/tickets/{ticket}/evaluation",
        "evaluator1",
        400,
        "validation_error",
        json={"rating": 0},
        setup=finished_at_1,
    ),
    # idempotency keys
    Bad(
        "key_256_chars",
        P,
        ISSUE,
        "kiosk",
        400,
        "validation_error",
        json={"queue": "social"},
        headers={"Idempotency-Key": "k" * 256},
    ),
    Bad(
        "key_other_body",
        P,
        ISSUE,
        "kiosk",
        422,
        "idempotency_key_reused",
        json={"queue": "project"},
        headers={"Idempotency-Key": "press-1"},
        setup=keyed_issue,
    ),
]


def test_at_least_25_cases() -> None:
    """The table holds at least 25 distinct bad requests (issue 2)."""
    assert len({c.id for c in CASES}) == len(CASES) >= 25


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
async def test_bad_request(hall: Hall, case: Bad) -> None:
    """A bad request gets its documented status and code, and changes nothing stored."""
    ctx: Ctx = {}
    if case.setup is not None:
        await case.setup(hall, ctx)
    before = await hall_state(hall)
    audited = len(await audit_rows(hall))
    headers = (hall.auth(case.who) if case.who else {}) | case.headers
    url = "/api/v1" + case.path.format(**ctx)
    if case.method == "GET":
        r = await hall.client.get(url, headers=headers)
    elif case.raw is not None:
        r = await hall.client.post(url, content=case.raw, headers=headers)
    else:
        r = await hall.client.post(url, json=case.json, headers=headers)
    assert_error(r, case.status, case.code)
    assert await hall_state(hall) == before
    if case.status in (401, 403):  # R12: refusals of credentials and rights are audited
        assert len(await audit_rows(hall)) > audited


async def test_replay_after_rejection_runs_the_command(hall: Hall) -> None:
    """A rejected keyed request stores no key: the same key works once the cause is gone."""
    await called_at_1(hall, {})
    path = "/halls/jinjiang/windows/1/call-next"
    r = await hall.post(path, "w1", {}, key="retry-me")
    assert_error(r, 409, "window_busy")
    await hall.post("/halls/jinjiang/windows/1/finish", "w1")
    r = await hall.post(path, "w1", {}, key="retry-me")
    assert r.status_code == 200 and r.json()["ticket"]["number"] == "A002", r.text
