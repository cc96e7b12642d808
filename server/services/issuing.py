"""Issuing a ticket: lane rules, caps and hours, a gapless number, the issued event."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from server.config import HallConfig, LaneConfig, QueueConfig
from server.domain import events
from server.domain.errors import BadRequest, Forbidden, not_found
from server.domain.lifecycle import klass_for
from server.domain.model import Ticket, TicketStatus
from server.domain.numbering import check_issue_allowed, format_number, issue_position
from server.services import print_jobs
from server.services.actors import Actor
from server.services.unit import Unit
from server.storage import tickets as store
from server.storage.ids import new_id

CHANNEL_BY_ROLE = {"kiosk": "kiosk", "guide": "guide", "manager": "guide", "admin": "guide"}
CHANNELS = frozenset({"kiosk", "guide", "appointment", "mobile"})


@dataclass(frozen=True, slots=True)
class IssueRequest:
    queue: str | None
    service: str | None
    lane: str
    channel: str | None


def resolve_queue(hall: HallConfig, req: IssueRequest) -> tuple[QueueConfig, str | None]:
    """The queue to issue in, from ``queue`` or a service item's ``service`` code."""
    if req.service is not None:
        service = hall.services.get(req.service)
        if service is None:
            raise not_found("service", req.service, "事项")
        if req.queue is not None and req.queue != service.queue:
            raise BadRequest(
                f"事项 {req.service} 属于队列 {service.queue}，与所填队列 {req.queue} 不符。",
                f"Service {req.service} belongs to queue {service.queue}, not {req.queue}.",
                code="validation_error",
                details={"fields": {"queue": "does not match the service's queue"}},
            )
        return hall.queues[service.queue], service.code
    if req.queue is None:
        raise BadRequest(
            "请选择业务队列（queue）或办事事项（service）。",
            "Give either 'queue' or 'service'.",
            code="validation_error",
            details={"fields": {"queue": "required when no service is given"}},
        )
    queue = hall.queues.get(req.queue)
    if queue is None:
        raise not_found("queue", req.queue, "队列")
    return queue, None


def check_lane(hall: HallConfig, actor: Actor, lane_id: str) -> LaneConfig:
    """The lane, if this actor's role may issue in it (guide desk checks documents)."""
    lane = hall.lanes.get(lane_id)
    if lane is None:
        raise not_found("lane", lane_id, "通道")
    if actor.role in ("guide", "manager", "admin", "system"):
        return lane
    if actor.role not in lane.issued_by:
        raise Forbidden(
            f"「{lane.name}」需由导办台工作人员核验后取号，请到导办台办理。",
            f"Lane {lane_id!r} cannot be issued by a {actor.role}; the guide desk issues it.",
            code="lane_not_allowed",
            details={"lane": lane_id, "role": actor.role},
        )
    return lane


def channel_for(actor: Actor, requested: str | None) -> str:
    if requested is None:
        return CHANNEL_BY_ROLE.get(actor.role, "kiosk")
    if requested not in CHANNELS:
        raise BadRequest(
            f"取号渠道「{requested}」无效。",
            f"Unknown channel {requested!r}; use one of {', '.join(sorted(CHANNELS))}.",
            code="validation_error",
            details={"fields": {"channel": f"one of {sorted(CHANNELS)}"}},
        )
    return requested


async def issue(u: Unit, req: IssueRequest) -> Ticket:
    """Issue a ticket; refused past the cap, after stop-issuing time or outside hours."""
    u.actor.require_role("kiosk", "guide", "manager")
    u.actor.require_hall(u.hall.id)
    queue, service = resolve_queue(u.hall, req)
    lane = check_lane(u.hall, u.actor, req.lane)
    channel = channel_for(u.actor, req.channel)
    check_issue_allowed(u.now, u.hall.tz, u.hall.hours, queue.stop_issuing, None, 0)
    day = u.today
    counter = await store.next_counter(u.conn, u.hall.id, queue.id, day)
    # The cap is checked after taking the counter: a refused issue rolls the increment back.
    check_issue_allowed(u.now, u.hall.tz, u.hall.hours, None, queue.daily_cap, counter - 1)
    ticket = Ticket(
        id=new_id(),
        hall=u.hall.id,
        queue=queue.id,
        number=format_number(queue.prefix, counter),
        counter=counter,
        business_date=day,
        lane=lane.id,
        lane_rank=lane.rank,
        service=service,
        channel=channel,
        status=TicketStatus.WAITING,
        issued_at=u.now,
        position=issue_position(counter),
        klass=klass_for(lane.id),
        status_token=secrets.token_urlsafe(18),
    )
    # Written by u.flush (on PostgreSQL in its one statement): nothing here reads it back.
    u.insert_ticket_at_flush(_insert_values(ticket, u.actor))
    u.emit(events.ticket_event(events.TICKET_ISSUED, ticket))
    u.audit("ticket.issue", ticket=ticket.id, detail=f"{ticket.number} {queue.id}")
    # Paper: a kiosk's ticket becomes a print job for its agent, in this same transaction.
    job = print_jobs.kiosk_job(u.actor, ticket, u.now)
    if job is not None:
        u.insert_print_job_at_flush(job)
    return ticket


def _insert_values(t: Ticket, actor: Actor) -> dict[str, object]:
    return {
        "id": t.id,
        "hall_id": t.hall,
        "queue_id": t.queue,
        "business_date": t.business_date,
        "counter": t.counter,
        "number": t.number,
        "lane": t.lane,
        "lane_rank": t.lane_rank,
        "klass": t.klass,
        "position": t.position,
        "service": t.service,
        "channel": t.channel,
        "status": t.status.value,
        "issued_at": t.issued_at,
        "status_token": t.status_token,
        "issued_by": actor.audit_id[:64],
        "verified_by": actor.audit_id[:64]
        if t.lane != "normal" and actor.kind == "staff"
        else None,
    }
