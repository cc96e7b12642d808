"""A zone's announcements from the outbox, in seq order, and which screen of the zone speaks.

The outbox is the hall's durable event log, so a screen that reloads or reconnects asks for
"everything after the last seq I played" and misses nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from server.config import HallConfig
from server.domain import events
from server.storage import halls as hall_store
from server.storage.tables import devices, outbox

PAGE = 200  # call events read per request; the answer says when there are more


async def zone_feed(
    conn: AsyncConnection,
    hall: HallConfig,
    zone: str,
    after: int | None,
    now: datetime,
    max_age_s: int | None = None,
) -> dict[str, Any]:
    """The zone's announcements with seq > ``after`` (none when ``after`` is None: a new
    screen starts at the current seq), skipping calls older than ``max_age_s``.

    Returns:
        ``{"hall", "zone", "epoch", "seq", "now", "speaker", "announcements", "more"}``; when
        ``more`` is true, ask again after the last scanned seq (``next_after``).
    """
    epoch, seq = await hall_store.hall_position(conn, hall.id)
    items: list[dict[str, Any]] = []
    scanned, more = seq, False
    if after is not None and after < seq:
        rows = (await conn.execute(_calls_after(hall.id, after, seq))).all()
        more = len(rows) == PAGE
        scanned = int(rows[-1].seq) if more else seq
        cutoff = now - timedelta(seconds=max_age_s) if max_age_s else None
        items = [
            _item(row)
            for row in rows
            if row.data.get("zone") == zone and (cutoff is None or row.at >= cutoff)
        ]
    return {
        "hall": hall.id,
        "zone": zone,
        "epoch": epoch,
        "seq": seq,
        "now": now.isoformat(),
        "speaker": await speaker(conn, hall, zone),
        "announcements": items,
        "more": more,
        "next_after": scanned,
    }


async def speaker(conn: AsyncConnection, hall: HallConfig, zone: str) -> str | None:
    """The id of the one display device that speaks the zone's calls, or None.

    The zone's ``speaker_display`` (a device name or id) when set; otherwise the first enrolled
    hall screen bound to the zone, else the first enrolled hall screen bound to no zone.
    Window screens (devices bound to a window) and revoked devices never speak.
    """
    d = devices.c
    stmt = (
        select(d.id, d.name, d.zone_id)
        .where(
            d.hall_id == hall.id,
            d.role == "display",
            d.window_id.is_(None),
            d.revoked_at.is_(None),
        )
        .order_by(d.created_at, d.id)
    )
    screens = (await conn.execute(stmt)).all()
    named = hall.zone(zone).speaker_display
    if named is not None:
        return next((str(s.id) for s in screens if named in (s.name, s.id)), None)
    for wanted in (zone, None):
        found = next((str(s.id) for s in screens if s.zone_id == wanted), None)
        if found is not None:
            return found
    return None


def _calls_after(hall: str, after: int, upto: int) -> Any:
    o = outbox.c
    return (
        select(o.seq, o.name, o.at, o.data)
        .where(
            o.hall_id == hall,
            o.seq > after,
            o.seq <= upto,
            o.name.in_(sorted(events.CALL_EVENTS)),
        )
        .order_by(o.seq)
        .limit(PAGE)
    )


def _item(row: Any) -> dict[str, Any]:
    block = row.data.get("announce") or {}
    default_kind = "recall" if row.name == events.TICKET_RECALLED else "call"
    return {
        "seq": int(row.seq),
        "at": row.at.isoformat(),
        "kind": block.get("kind", default_kind),
        "number": row.data.get("number"),
        "window": row.data.get("window_number"),
        "zh": block.get("zh"),
        "en": block.get("en"),
        "audio": block.get("audio"),
        "audio_en": block.get("audio_en"),
        "chime": block.get("chime"),
        "repeat": block.get("repeat", 1),
    }
