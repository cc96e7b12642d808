"""Window commands: open (take the window), close, pause with a reason, resume."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update

from server.domain import events
from server.domain.errors import BadRequest, Conflict
from server.domain.model import WindowStatus
from server.domain.privacy import redact
from server.services.unit import Unit
from server.storage import halls as hall_store
from server.storage import tickets as store
from server.storage.fast import Record
from server.storage.tables import staff_sessions


def window_view(row: Record) -> dict[str, Any]:
    """The contract's ``Window`` object."""
    return {
        "id": row.id,
        "number": row.number,
        "name": row.name,
        "zone": row.zone,
        "queues": list(row.queues),
        "mode": row.mode,
        "status": row.status,
        "reason": row.reason,
    }


def require_callable(window: Record) -> None:
    """A paused window receives no calls."""
    if window.status == WindowStatus.PAUSED:
        raise Conflict(
            f"窗口 {window.id} 暂停服务中，请先恢复服务再叫号。",
            f"Window {window.id} is paused; resume it before calling.",
            code="window_paused",
            details={"window": window.id},
        )


async def open_implicitly(u: Unit, window: Record) -> None:
    """A closed window that calls is open: terminals bound to a window have no sign-in step."""
    if window.status == WindowStatus.CLOSED:
        await _set_status(u, window.id, WindowStatus.OPEN, None, events.WINDOW_OPENED)


async def open_window(u: Unit, window_id: str) -> Record:
    """Take the window: staff sign in to it (their session is bound to it from now on)."""
    _require_window_actor(u, window_id)
    window = await hall_store.get_window(u.conn, u.hall.id, window_id, lock=True)
    staff_id = u.actor.id if u.actor.kind == "staff" else window.staff_id
    await hall_store.set_window(
        u.conn,
        u.hall.id,
        window_id,
        u.now,
        status=WindowStatus.OPEN.value,
        reason=None,
        staff_id=staff_id,
    )
    if u.actor.kind == "staff" and u.actor.token_hash:
        await u.conn.execute(
            update(staff_sessions)
            .where(staff_sessions.c.token_hash == u.actor.token_hash)
            .values(window_id=window_id, hall_id=u.hall.id)
        )
    u.emit(events.window_event(events.WINDOW_OPENED, window_id, WindowStatus.OPEN.value, None))
    u.audit("window.open", window=window_id)
    return await hall_store.get_window(u.conn, u.hall.id, window_id)


async def close_window(u: Unit, window_id: str) -> Record:
    """Close a window; refused while it has a called or serving ticket."""
    u.actor.require_window(u.hall.id, window_id)
    await hall_store.get_window(u.conn, u.hall.id, window_id, lock=True)
    current = await store.active_ticket(u.conn, u.hall.id, window_id)
    if current is not None:
        raise Conflict(
            f"窗口还有 {current.number} 号未办结，请先完成或过号后再关闭。",
            f"Window {window_id} still has ticket {current.number}; end it before closing.",
            code="window_busy",
            details={"number": current.number},
        )
    await _set_status(u, window_id, WindowStatus.CLOSED, None, events.WINDOW_CLOSED, staff_id=None)
    return await hall_store.get_window(u.conn, u.hall.id, window_id)


async def pause_window(u: Unit, window_id: str, reason: str) -> Record:
    """Pause with a reason (暂停服务); the window is shown paused and receives no calls."""
    u.actor.require_window(u.hall.id, window_id)
    reason = redact(reason.strip())  # shown on hall screens and events: no personal numbers
    if not reason or len(reason) > 100:
        raise BadRequest(
            "请填写暂停原因（1–100 字）。",
            "A pause needs a reason of 1-100 characters.",
            code="validation_error",
            details={"fields": {"reason": "1-100 characters"}},
        )
    await hall_store.get_window(u.conn, u.hall.id, window_id, lock=True)
    await _set_status(u, window_id, WindowStatus.PAUSED, reason, events.WINDOW_PAUSED)
    return await hall_store.get_window(u.conn, u.hall.id, window_id)


async def resume_window(u: Unit, window_id: str) -> Record:
    """Resume calling after a pause."""
    u.actor.require_window(u.hall.id, window_id)
    window = await hall_store.get_window(u.conn, u.hall.id, window_id, lock=True)
    if window.status != WindowStatus.PAUSED:
        raise Conflict(
            "窗口未处于暂停状态，无需恢复。",
            f"Window {window_id} is {window.status}, not paused.",
            code="window_not_paused",
        )
    await _set_status(u, window_id, WindowStatus.OPEN, None, events.WINDOW_RESUMED)
    return await hall_store.get_window(u.conn, u.hall.id, window_id)


async def _set_status(
    u: Unit, window_id: str, status: WindowStatus, reason: str | None, event: str, **extra: Any
) -> None:
    await hall_store.set_window(
        u.conn, u.hall.id, window_id, u.now, status=status.value, reason=reason, **extra
    )
    u.emit(events.window_event(event, window_id, status.value, reason))
    u.audit(event, window=window_id, detail=reason)


def _require_window_actor(u: Unit, window_id: str) -> None:
    # Staff may take any window of their hall; terminals only their own.
    if u.actor.kind == "staff" and u.actor.role in ("staff", "guide"):
        u.actor.require_hall(u.hall.id)
        return
    u.actor.require_window(u.hall.id, window_id)
