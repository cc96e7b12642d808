"""Recent service times per queue, cached briefly: an estimate need not cost a query per ticket."""

from __future__ import annotations

import time
import weakref
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from server.storage import tickets as store

# A waiting-time estimate is shown in minutes; service times 30 s old are as good as fresh.
TTL_S = 30.0

_caches: weakref.WeakKeyDictionary[Any, dict[tuple[str, str], tuple[float, list[float]]]] = (
    weakref.WeakKeyDictionary()
)


async def recent_service_seconds(conn: AsyncConnection, hall: str, queue: str) -> list[float]:
    """``store.recent_service_seconds``, reused for ``TTL_S`` per database and queue."""
    cache = _caches.setdefault(conn.engine.sync_engine, {})
    now = time.monotonic()
    hit = cache.get((hall, queue))
    if hit is not None and now - hit[0] < TTL_S:
        return hit[1]
    value = await store.recent_service_seconds(conn, hall, queue)
    cache[(hall, queue)] = (now, value)
    return value
