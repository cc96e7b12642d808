"""Print jobs for kiosk agents: enqueue on issue, reprint, deliver, ack, printer status.

A ticket a kiosk issues gets a print job in the issuing transaction (ticket first, paper
second: the job never delays or fails the issue). Jobs go ``pending`` → ``sent`` (handed to
a websocket of the kiosk) → ``printed`` | ``failed`` (the agent's ``print.ack``). A reprint
is a new job for the same ticket, never a new ticket. The first ack of a job decides it;
later acks change nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Row, literal_column, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from server.config import AppConfig, HallConfig
from server.domain import events
from server.domain.errors import BadRequest, Conflict, Forbidden, NotFound, not_found
from server.domain.model import Ticket, TicketStatus
from server.realtime.frames import dumps
from server.services import tickets as ticket_service
from server.services.actors import Actor
from server.services.commands import Commands
from server.services.unit import Unit
from server.storage import fast
from server.storage import tickets as ticket_store
from server.storage.db import Database
from server.storage.ids import new_id
from server.storage.rows import ticket_from_row
from server.storage.tables import device_status, devices, print_jobs

AckStatus = Literal["printed", "failed"]
PENDING, SENT, PRINTED, FAILED = "pending", "sent", "printed", "failed"
# A job not printed within this is failed instead of delivered: a kiosk back after a night
# offline must not print yesterday's queue. Staff reprint a ticket still needed.
JOB_TTL = timedelta(minutes=10)
# Tickets whose visit is over: nothing to print for them any more.
CLOSED_TICKETS = frozenset({TicketStatus.DONE, TicketStatus.CANCELLED, TicketStatus.EXPIRED})
CLAIM_BATCH = 50
PAPER = frozenset({"ok", "near_end", "out"})


@dataclass(frozen=True, slots=True)
class Delivery:
    """A job to put on the websockets of its kiosk: the contract's ``print`` frame."""

    device: str
    job: str
    frame: dict[str, Any]


def _open(*statuses: str) -> Any:
    """``status IN (...)`` as literals: asyncpg's generic plans cannot use a partial index
    (ix_print_jobs_open) through bound parameters (see storage.tickets._is_waiting)."""
    return print_jobs.c.status.in_([literal_column(f"'{s}'") for s in statuses])


_INSERT_JOB = print_jobs.insert()


async def enqueue(
    conn: AsyncConnection, *, hall: str, device: str, ticket: str, now: datetime
) -> str:
    """Insert a pending job for ``device`` to print ``ticket``; returns the job id."""
    values = job_values(hall=hall, device=device, ticket=ticket, now=now)
    await fast.execute(conn, _INSERT_JOB, values)
    return str(values["id"])


def job_values(*, hall: str, device: str, ticket: str, now: datetime) -> dict[str, Any]:
    """A new pending job's row."""
    return {
        "id": new_id(),
        "hall_id": hall,
        "device_id": device,
        "ticket_id": ticket,
        "status": PENDING,
        "attempts": 0,
        "created_at": now,
        "updated_at": now,
    }


def kiosk_job(actor: Actor, ticket: Ticket, now: datetime) -> dict[str, Any] | None:
    """The issuing hook: a ticket a kiosk device issued is printed at that kiosk (the job's
    row, for the issuing command's flush to insert); None for any other issuer."""
    if actor.kind != "device" or actor.role != "kiosk":
        return None
    return job_values(hall=ticket.hall, device=actor.id, ticket=ticket.id, now=now)


# --- reprint ----------------------------------------------------------------------------------


async def reprint(u: Unit, ticket_id: str, device: str | None) -> dict[str, Any]:
    """A new job for the same ticket, at ``device`` or the kiosk that issued it.

    Guide staff of the hall, managers and admins may reprint any ticket of the hall; a kiosk
    only the tickets it issued, and only on itself.
    """
    u.actor.require_hall(u.hall.id)
    row = await ticket_store.get_ticket(u.conn, u.hall.id, ticket_id)
    if row is None:
        raise not_found("ticket", ticket_id, "票号")
    ticket = ticket_from_row(row)
    target = _reprint_target(u.actor, row.issued_by, device)
    if ticket.status in CLOSED_TICKETS:
        raise Conflict(
            f"{ticket.number} 号已办结或失效，无需补打。",
            f"Ticket {ticket.number} is {ticket.status.value}; there is nothing to reprint.",
            code="ticket_closed",
            details={"status": ticket.status.value},
        )
    await _require_kiosk(u.conn, u.hall.id, target)
    job = await enqueue(u.conn, hall=u.hall.id, device=target, ticket=ticket.id, now=u.now)
    u.audit("print.reprint", ticket=ticket.id, detail=f"{ticket.number} job {job} at {target}")
    at = u.now.isoformat()
    return {
        "id": job,
        "ticket": ticket.id,
        "device": target,
        "status": PENDING,
        "reason": None,
        "attempts": 0,
        "created_at": at,
        "updated_at": at,
    }


def _reprint_target(actor: Actor, issued_by: str | None, device: str | None) -> str:
    """The kiosk to print on, after checking who may ask for it."""
    if actor.kind == "device":
        actor.require_role("kiosk")
        if issued_by != actor.audit_id or device not in (None, actor.id):
            raise Forbidden(
                "自助取号机只能在本机补打本机取的票；其他票请到导办台补打。",
                "A kiosk may reprint only tickets it issued, on itself; "
                "the guide desk reprints others.",
                code="not_issuing_kiosk",
            )
        return actor.id
    actor.require_role("guide", "manager")
    issuer = issued_by[len("device:") :] if issued_by and issued_by.startswith("device:") else None
    target = device or issuer
    if target is None:
        raise BadRequest(
            "该票不是自助取号机取的，请指定补打用的取号机（device）。",
            "This ticket was not issued by a kiosk: give the kiosk device id to print on.",
            code="validation_error",
            details={"fields": {"device": "required: the ticket has no issuing kiosk"}},
        )
    return target


async def _require_kiosk(conn: AsyncConnection, hall: str, device: str) -> None:
    """Refuse a device that is not an enrolled, unrevoked kiosk of ``hall``."""
    row = (
        await conn.execute(
            select(devices.c.role, devices.c.revoked_at).where(
                devices.c.id == device, devices.c.hall_id == hall
            )
        )
    ).first()
    if row is None or row.role != "kiosk" or row.revoked_at is not None:
        raise NotFound(
            f"本大厅没有可用的自助取号机「{device}」，请选择已登记的取号机。",
            f"No enrolled, unrevoked kiosk {device!r} in this hall; pick another device.",
            code="device_not_found",
            details={"device": device},
        )


# --- acks -------------------------------------------------------------------------------------


async def acknowledge(u: Unit, job_id: str, status: AckStatus, reason: str | None) -> bool:
    """Record a kiosk agent's ``print.ack``; True if it changed the job (the first ack did).

    Raises:
        NotFound: no such job.
        Forbidden: the job belongs to another device.
    """
    stmt = select(print_jobs).where(print_jobs.c.id == job_id)
    if u.conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    row = (await u.conn.execute(stmt)).first()
    if row is None:
        raise NotFound(
            f"打印任务「{job_id[:40]}」不存在。",
            f"Unknown print job {job_id[:40]!r}.",
            code="print_job_not_found",
        )
    if row.device_id != u.actor.id or row.hall_id != u.hall.id:
        raise Forbidden(
            "这不是本机的打印任务，不能确认。",
            "This print job belongs to another device; ack only your own jobs.",
            code="not_your_job",
        )
    if row.status not in (PENDING, SENT):
        return False
    await u.conn.execute(
        update(print_jobs)
        .where(print_jobs.c.id == job_id, _open(PENDING, SENT))
        .values(status=status, reason=reason, updated_at=u.now)
    )
    u.audit(f"print.{status}", ticket=row.ticket_id, outcome=status, detail=reason)
    return True


# --- printer status ---------------------------------------------------------------------------


def printer_state(printer: dict[str, Any]) -> dict[str, Any]:
    """The three fields of a reported printer status, nothing else (checked by wsproto)."""
    return {
        "online": bool(printer["online"]),
        "paper": str(printer["paper"]),
        "cover_open": bool(printer["cover_open"]),
    }


async def report_status(u: Unit, printer: dict[str, Any]) -> bool:
    """Keep the kiosk's printer status; emit ``device.status`` on the hall channel if it changed.

    Returns:
        True when the status changed (an event was emitted).
    """
    state = printer_state(printer)
    current = (
        await u.conn.execute(
            select(device_status.c.printer).where(device_status.c.device_id == u.actor.id)
        )
    ).scalar_one_or_none()
    if current == state:
        return False
    ins = (postgresql.insert if u.conn.dialect.name == "postgresql" else sqlite.insert)(
        device_status
    )
    values = {"printer": state, "updated_at": u.now, "hall_id": u.hall.id}
    await u.conn.execute(
        ins.values(device_id=u.actor.id, **values).on_conflict_do_update(
            index_elements=["device_id"], set_=values
        )
    )
    # Device names are places ("一楼自助取号机1"), never people: safe on the public channel.
    data = {"device": u.actor.id, "name": u.actor.name, "printer": state}
    u.emit(events.Event(events.DEVICE_STATUS, data))
    return True


# --- delivery ---------------------------------------------------------------------------------


async def claim(
    db: Database, config: AppConfig, device_ids: Sequence[str], *, resend: bool, now: datetime
) -> list[Delivery]:
    """Jobs to send now to ``device_ids``, marked ``sent``; stale ones are failed instead.

    Args:
        db: the database.
        config: the halls (names, zones, services and texts printed on the ticket).
        device_ids: kiosks with an open websocket on this process.
        resend: also jobs already sent but not acked (a kiosk just connected).
        now: the time.
    """
    statuses = (PENDING, SENT) if resend else (PENDING,)
    ids = list(device_ids)
    if not ids:
        return []
    j = print_jobs.c
    stmt = (
        select(j.id)
        .where(j.device_id.in_(ids), _open(*statuses))
        .order_by(j.created_at)
        .limit(CLAIM_BATCH)
    )
    async with db.read() as conn:  # the common case, nothing to send, never takes the writer
        job_ids = list((await conn.execute(stmt)).scalars())
    if not job_ids:
        return []
    async with db.write() as conn:
        rows = (
            await conn.execute(
                select(print_jobs).where(j.id.in_(job_ids), _open(*statuses)).order_by(j.created_at)
            )
        ).all()
        return [d for row in rows if (d := await _deliver(conn, config, row, now)) is not None]


async def _deliver(
    conn: AsyncConnection, config: AppConfig, job: Row[Any], now: datetime
) -> Delivery | None:
    """Mark one job sent and build its frame, or fail it when it is stale."""
    row = await ticket_store.get_ticket(conn, job.hall_id, job.ticket_id)
    ticket = ticket_from_row(row) if row is not None else None
    stale = _stale_reason(job, ticket, now)
    if stale is not None or ticket is None:
        await _set(conn, job.id, FAILED, now, reason=stale or "ticket not found")
        return None
    await _set(conn, job.id, SENT, now, attempts=int(job.attempts) + 1)
    hall = config.hall(ticket.hall)
    view = await ticket_service.view(conn, hall, ticket)
    frame = {
        "type": "print",
        "job": {"id": job.id, "ticket": view, "copies": 1, "layout": layout(config, hall, ticket)},
    }
    return Delivery(job.device_id, job.id, frame)


def _stale_reason(job: Row[Any], ticket: Ticket | None, now: datetime) -> str | None:
    if ticket is None:
        return "票号不存在 / ticket not found"
    if ticket.status in CLOSED_TICKETS:
        return f"票号已{ticket.status.value}，不再打印 / ticket {ticket.status.value}"
    if now - job.created_at > JOB_TTL:
        minutes = int(JOB_TTL.total_seconds() // 60)
        return f"{minutes} 分钟内未能送达取号机，如需请补打 / not delivered in {minutes} min"
    return None


async def _set(
    conn: AsyncConnection,
    job: str,
    status: str,
    now: datetime,
    *,
    reason: str | None = None,
    attempts: int | None = None,
) -> None:
    values: dict[str, Any] = {"status": status, "updated_at": now}
    if reason is not None:
        values["reason"] = reason[:200]
    if attempts is not None:
        values["attempts"] = attempts
    await conn.execute(update(print_jobs).where(print_jobs.c.id == job).values(**values))


def layout(config: AppConfig, hall: HallConfig, ticket: Ticket) -> dict[str, Any]:
    """What the agent prints besides the ticket's own fields: names, texts, the status link.

    An extension of the contract's print job: the server owns the hall's configuration, so
    an agent needs nothing but its token to print a correct ticket.
    """
    queue = hall.queues.get(ticket.queue)
    zone = hall.zones.get(queue.zone) if queue is not None else None
    service = hall.services.get(ticket.service) if ticket.service else None
    base = config.server.public_base_url.rstrip("/")
    return {
        "hall_name": hall.org_name,
        "hall_subtitle": hall.name,
        "zone": (zone.location or zone.name) if zone is not None else "",
        "service": service.name if service else (queue.name if queue else ticket.queue),
        "materials": list(service.materials) if service else [],
        "reminders": list(hall.ticket_texts.reminders),
        "status_url": f"{base}/t/{ticket.status_token}",
        "timezone": hall.timezone,
    }


async def job_status(conn: AsyncConnection, job_id: str) -> Row[Any] | None:
    """One job's row (tests and tools)."""
    return (await conn.execute(select(print_jobs).where(print_jobs.c.id == job_id))).first()


# --- the websocket's side -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class JobFeed:
    """``realtime.printing.JobSource`` on this app's database, halls and clock."""

    commands: Commands

    async def claim(self, device_ids: Sequence[str], *, resend: bool) -> list[tuple[str, str]]:
        """``(device, print frame JSON)`` of each job to send now, marked sent."""
        c = self.commands
        found = await claim(c.db, c.config, device_ids, resend=resend, now=c.clock.now())
        return [(d.device, dumps(d.frame)) for d in found]


async def on_print_ack(commands: Commands, kiosk: Actor, hall: str, frame: dict[str, Any]) -> None:
    """A ``print.ack`` frame (checked by wsproto) as a command of the kiosk that sent it."""
    status: AckStatus = "printed" if frame["status"] == PRINTED else "failed"
    reason = frame.get("reason") or None

    async def action(u: Unit) -> tuple[int, Any]:
        return 200, await acknowledge(u, frame["job"], status, reason)

    await commands.execute(kiosk, hall, action)


async def on_device_status(
    commands: Commands, kiosk: Actor, hall: str, frame: dict[str, Any]
) -> None:
    """A ``device.status`` frame (checked by wsproto) as a command of the kiosk that sent it."""

    async def action(u: Unit) -> tuple[int, Any]:
        return 200, await report_status(u, frame["printer"])

    await commands.execute(kiosk, hall, action)
