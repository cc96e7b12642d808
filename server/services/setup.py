"""Start-up and housekeeping: migrate, seed hall rows from config, expire, purge."""

from __future__ import annotations

import json
import logging
from datetime import datetime

from server.config import AppConfig
from server.services.actors import SYSTEM
from server.services.commands import Commands
from server.services.tickets import expire_due
from server.services.unit import Unit
from server.storage import halls as hall_store
from server.storage.db import Database
from server.storage.migrate import upgrade

log = logging.getLogger("hallq.setup")


async def bootstrap(db: Database, config: AppConfig, now: datetime) -> None:
    """Apply migrations, then create the rows config.toml implies (never overwriting edits)."""
    await upgrade(db)
    async with db.write() as conn:
        for hall in config.halls.values():
            await hall_store.ensure_hall(conn, hall.id, now)
            await hall_store.ensure_queue_states(conn, hall.id, hall.queues)
            await hall_store.ensure_windows(
                conn,
                hall.id,
                [
                    {
                        "id": w.id,
                        "number": w.number,
                        "name": w.name,
                        "zone": w.zone,
                        "queues": list(w.queues),
                        "mode": w.mode,
                    }
                    for w in hall.windows.values()
                ],
                now,
            )


async def expire_all(commands: Commands) -> int:
    """Expire due waiting tickets in every hall (run every minute and at start-up)."""
    total = 0
    for hall_id in commands.config.halls:

        async def action(u: Unit) -> tuple[int, object]:
            return 200, {"expired": await expire_due(u)}

        reply = await commands.execute(SYSTEM, hall_id, action)
        total += int(json.loads(reply.body)["expired"])
    if total:
        log.info("expired %d waiting tickets at closing", total)
    return total
