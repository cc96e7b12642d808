"""Builders of domain values for the domain tests."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from server.domain.lifecycle import klass_for
from server.domain.model import (
    NORMAL_LANE,
    Candidate,
    PolicyMode,
    QueuePolicy,
    Ticket,
    TicketStatus,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
# 2026-11-27 (a Friday) 10:00 in Shanghai.
T0 = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
DAY = date(2026, 11, 27)
LANE_RANKS = {NORMAL_LANE: 0, "military": 1, "elderly": 2, "disabled": 3, "pregnant": 4}


def at(seconds: float) -> datetime:
    """T0 plus ``seconds``."""
    return T0 + timedelta(seconds=seconds)


def ticket(status: TicketStatus = TicketStatus.WAITING, **changes: Any) -> Ticket:
    """A ticket of queue ``social`` issued at T0, with ``changes`` applied."""
    lane = changes.get("lane", NORMAL_LANE)
    base = Ticket(
        id="3f2a9c0d4e5b46a7b8c9d0e1f2a3b4c5",
        hall="jinjiang",
        queue="social",
        number="A001",
        counter=1,
        business_date=DAY,
        lane=lane,
        lane_rank=LANE_RANKS.get(lane, 1),
        service=None,
        channel="kiosk",
        status=status,
        issued_at=T0,
        position=1.0,
        klass=klass_for(lane),
    )
    return replace(base, **changes)


def cand(
    tid: str,
    *,
    lane: str = NORMAL_LANE,
    issued: float = 0.0,
    position: float | None = None,
    queue: str = "q",
    pinned: bool = False,
    requeued: bool = False,
) -> Candidate:
    """A head candidate issued ``issued`` seconds after T0."""
    return Candidate(
        ticket_id=tid,
        queue=queue,
        lane=lane,
        lane_rank=LANE_RANKS[lane],
        klass=0 if pinned else klass_for(lane),
        position=issued if position is None else position,
        issued_at=at(issued),
        requeued=requeued,
    )


def policy(
    mode: PolicyMode = "interleave", interleave: int = 2, max_wait: int = 1800
) -> QueuePolicy:
    """A queue policy."""
    return QueuePolicy(mode=mode, interleave=interleave, normal_max_wait_s=max_wait)
