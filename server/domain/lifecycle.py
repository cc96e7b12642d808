"""The ticket state machine: pure transitions that return a new Ticket or raise Conflict.

waiting ──call──▶ called ──start──▶ serving ──finish──▶ done
   │               │  ▲ recall        │
   │               ├──┴───────────────┴──no_show──▶ no_show ──requeue──▶ waiting
   │               └──────transfer (also from serving)──────────────────▶ waiting
   ├──cancel──▶ cancelled                                   (other queue, same number)
   └──expire──▶ expired               no_show ──call "specific"──▶ called
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace
from datetime import date, datetime
from types import MappingProxyType

from server.domain.errors import Conflict, invalid_transition
from server.domain.model import (
    KLASS_NORMAL,
    KLASS_PINNED,
    KLASS_PRIORITY,
    NORMAL_LANE,
    HallRules,
    Outcome,
    Ticket,
    TicketStatus,
)

_S = TicketStatus

# Action → the statuses it may start from. "call_specific" is a call by number (reason
# "specific"): it may also bring back a missed ticket the applicant turned up for late.
ALLOWED: Mapping[str, frozenset[TicketStatus]] = MappingProxyType(
    {
        "call": frozenset({_S.WAITING}),
        "call_specific": frozenset({_S.WAITING, _S.NO_SHOW}),
        "recall": frozenset({_S.CALLED}),
        "start": frozenset({_S.CALLED}),
        "finish": frozenset({_S.CALLED, _S.SERVING}),
        "no_show": frozenset({_S.CALLED, _S.SERVING}),
        "transfer": frozenset({_S.CALLED, _S.SERVING}),
        "requeue": frozenset({_S.NO_SHOW}),
        "cancel": frozenset({_S.WAITING}),
        "expire": frozenset({_S.WAITING}),
    }
)

SPECIFIC = "specific"


def klass_for(lane: str) -> int:
    """The call class of a freshly waiting ticket of ``lane`` (normal or priority).

    Args:
        lane: the lane id; ``NORMAL_LANE`` is the only non-priority lane.

    Returns:
        ``KLASS_NORMAL`` for the normal lane, else ``KLASS_PRIORITY``.
    """
    return KLASS_NORMAL if lane == NORMAL_LANE else KLASS_PRIORITY


def call(t: Ticket, window: str, now: datetime, reason: str) -> Ticket:
    """Call a ticket to ``window``.

    Args:
        t: a waiting ticket, or a missed one when ``reason`` is ``"specific"``.
        window: id of the calling window.
        now: the instant of the call.
        reason: why selection picked it (``fifo``, ``priority:<lane>``, ``specific`` …).

    Returns:
        The ticket, called, with its recall count reset.

    Raises:
        Conflict: ``invalid_transition`` if the status does not allow a call.
    """
    _require("call_specific" if reason == SPECIFIC else "call", t, label="call")
    return replace(
        t,
        status=_S.CALLED,
        window=window,
        called_at=now,
        call_reason=reason,
        recalls=0,
        last_recall_at=None,
        served_at=None,
        finished_at=None,
    )


def recall(t: Ticket, now: datetime, rules: HallRules) -> Ticket:
    """Call the window's current ticket again, within the hall's limit and cooldown.

    Args:
        t: a called ticket.
        now: the instant of the recall.
        rules: the hall's ``recall_limit`` and ``recall_cooldown_s``.

    Returns:
        The ticket with one more recall.

    Raises:
        Conflict: ``invalid_transition``; ``recall_limit`` once the limit is used up (mark it
            missed instead); ``recall_cooldown`` when the previous call is too recent
            (``details["retry_after"]`` says how many seconds to wait).
    """
    _require("recall", t)
    if t.recalls >= rules.recall_limit:
        raise _recall_limit(t, rules)
    since = t.last_recall_at or t.called_at
    if since is not None:
        remaining = rules.recall_cooldown_s - (now - since).total_seconds()
        if remaining > 0:
            raise _recall_cooldown(t, math.ceil(remaining))
    return replace(t, recalls=t.recalls + 1, last_recall_at=now)


def start(t: Ticket, now: datetime) -> Ticket:
    """The applicant arrived at the window: called → serving.

    Raises:
        Conflict: ``invalid_transition`` unless the ticket is called.
    """
    _require("start", t)
    return replace(t, status=_S.SERVING, served_at=now)


def finish(t: Ticket, now: datetime, outcome: Outcome | None) -> Ticket:
    """End the visit with an outcome (一次性告知: every end says how it ended).

    Args:
        t: a called or serving ticket.
        now: the instant the visit ended.
        outcome: how it ended; ``None`` means ``Outcome.COMPLETED``.

    Raises:
        Conflict: ``invalid_transition`` unless the ticket is called or serving.
    """
    _require("finish", t)
    return replace(t, status=_S.DONE, finished_at=now, outcome=outcome or Outcome.COMPLETED)


def no_show(t: Ticket, now: datetime) -> Ticket:
    """The applicant did not come (过号); the guide desk may re-queue it the same day.

    Raises:
        Conflict: ``invalid_transition`` unless the ticket is called or serving.
    """
    _require("no_show", t)
    return replace(t, status=_S.NO_SHOW, finished_at=now)


def transfer(
    t: Ticket, queue: str, position: float, now: datetime, *, pinned: bool = True
) -> Ticket:
    """Move the ticket, same id and number, back to waiting in ``queue`` (转窗/转办).

    Args:
        t: a called or serving ticket.
        queue: the target queue id.
        position: its place there (``front_position`` for the front).
        now: the instant of the transfer (kept for symmetry; waiting tickets carry no time).
        pinned: True (default) puts it in the pinned class, called before anything else
            with reason ``transfer``; False lets it wait in its lane's class.

    Raises:
        Conflict: ``invalid_transition`` unless the ticket is called or serving.
    """
    _require("transfer", t)
    return replace(
        _back_to_waiting(t, position),
        queue=queue,
        klass=KLASS_PINNED if pinned else klass_for(t.lane),
    )


def requeue(t: Ticket, position: float, now: datetime, rules: HallRules, today: date) -> Ticket:
    """Put a missed ticket back in its queue at the guide desk (过号, 当日有效).

    Args:
        t: a no-show ticket.
        position: its new place (``requeue_position``: after the next N waiting tickets).
        now: the instant of the requeue.
        rules: the hall's ``requeue_per_day``.
        today: the hall's business date now.

    Raises:
        Conflict: ``invalid_transition``; ``requeue_expired`` for a ticket of another day
            (checked first: an old ticket is refused whatever its count);
            ``requeue_limit`` once the ticket was re-queued ``requeue_per_day`` times.
    """
    _require("requeue", t)
    if t.business_date != today:
        raise _requeue_expired(t, today)
    if t.requeues >= rules.requeue_per_day:
        raise _requeue_limit(t, rules)
    return replace(_back_to_waiting(t, position), klass=klass_for(t.lane), requeues=t.requeues + 1)


def cancel(t: Ticket, now: datetime) -> Ticket:
    """Withdraw a waiting ticket (the applicant left, or the guide desk cancelled it).

    Raises:
        Conflict: ``invalid_transition`` unless the ticket is waiting.
    """
    _require("cancel", t)
    return replace(t, status=_S.CANCELLED, finished_at=now)


def expire(t: Ticket, now: datetime) -> Ticket:
    """Close a ticket still waiting at closing time; it is kept, never deleted.

    Raises:
        Conflict: ``invalid_transition`` unless the ticket is waiting.
    """
    _require("expire", t)
    return replace(t, status=_S.EXPIRED, finished_at=now)


def _require(action: str, t: Ticket, *, label: str | None = None) -> None:
    if t.status not in ALLOWED[action]:
        raise invalid_transition(label or action, t.status.value)


def _back_to_waiting(t: Ticket, position: float) -> Ticket:
    # A waiting ticket carries nothing of a previous call: the next call sets it all again.
    return replace(
        t,
        status=_S.WAITING,
        position=position,
        window=None,
        called_at=None,
        served_at=None,
        finished_at=None,
        recalls=0,
        last_recall_at=None,
        outcome=None,
        call_reason=None,
    )


def _recall_limit(t: Ticket, rules: HallRules) -> Conflict:
    return Conflict(
        f"{t.number} 号已重呼 {t.recalls} 次，已达最大重呼次数，请标记过号。",
        f"Ticket {t.number} was recalled {t.recalls} times, the hall's limit; "
        "mark it as no-show instead.",
        code="recall_limit",
        details={"number": t.number, "recalls": t.recalls, "limit": rules.recall_limit},
    )


def _recall_cooldown(t: Ticket, retry_after: int) -> Conflict:
    return Conflict(
        f"刚刚呼叫过 {t.number} 号，请等待 {retry_after} 秒后再重呼。",
        f"Ticket {t.number} was just called; recall again in {retry_after} s.",
        code="recall_cooldown",
        details={"number": t.number, "retry_after": retry_after},
    )


def _requeue_expired(t: Ticket, today: date) -> Conflict:
    return Conflict(
        f"{t.number} 号是 {t.business_date.isoformat()} 的票号，过号重排仅当日有效，请重新取号。",
        f"Ticket {t.number} is from {t.business_date.isoformat()}; missed tickets can be "
        "re-queued on their own day only. Take a new ticket.",
        code="requeue_expired",
        details={
            "number": t.number,
            "business_date": t.business_date.isoformat(),
            "today": today.isoformat(),
        },
    )


def _requeue_limit(t: Ticket, rules: HallRules) -> Conflict:
    return Conflict(
        f"{t.number} 号今日已重新排队 {t.requeues} 次，不能再次排队，请重新取号。",
        f"Ticket {t.number} was already re-queued {t.requeues} time(s) today, the limit; "
        "take a new ticket.",
        code="requeue_limit",
        details={"number": t.number, "requeues": t.requeues, "limit": rules.requeue_per_day},
    )
