"""``hallq demo``: SQLite in a temporary folder, demo staff and devices, URLs printed, served."""

from __future__ import annotations

import asyncio
import os
import tempfile
from dataclasses import replace
from datetime import datetime, time, timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncConnection

from server.config import AppConfig, HallConfig, config_path, load_config
from server.domain.clock import SystemClock
from server.domain.model import BusinessHours
from server.services import auth
from server.services.setup import bootstrap
from server.storage.db import Database

DEMO_PASSWORD = "hallq-demo-2026"  # noqa: S105 - printed by the demo on purpose
# The demo is tried at any hour: open every day, all day, so a ticket can always be issued.
# Pairing links are printed at start-up and clicked whenever someone gets to them.
DEMO_PAIRING_TTL = timedelta(hours=24)
ALWAYS_OPEN = BusinessHours(days=frozenset(range(1, 8)), sessions=((time(0, 0), time.max),))


def demo_config(base: AppConfig, folder: Path, host: str, port: int) -> AppConfig:
    halls = {
        hid: replace(
            h,
            hours=ALWAYS_OPEN,
            queues={qid: replace(q, stop_issuing=None) for qid, q in h.queues.items()},
        )
        for hid, h in base.halls.items()
    }
    server = replace(
        base.server,
        host=host,
        port=port,
        workers=1,
        database_url=f"sqlite+aiosqlite:///{folder / 'hallq-demo.db'}",
        broadcast_url="memory://",
        public_base_url=f"http://{host}:{port}",
    )
    return replace(base, halls=halls, server=server)


async def seed(config: AppConfig) -> list[str]:
    """Create demo staff and devices; returns the lines to print."""
    db = Database(config.server.database_url)
    now = SystemClock().now()
    base = config.server.public_base_url
    lines = [f"hallq demo on {base}   (staff password for every account: {DEMO_PASSWORD})", ""]
    try:
        await bootstrap(db, config, now)
        async with db.write() as conn:
            await auth.add_staff(
                conn,
                username="admin",
                name="管理员",
                role="admin",
                hall=None,
                password=DEMO_PASSWORD,
                now=now,
                code="0001",
            )
            for hall in config.halls.values():
                lines += await _seed_hall(conn, hall, now, base)
    finally:
        await db.dispose()
    return lines


async def _seed_hall(
    conn: AsyncConnection, hall: HallConfig, now: datetime, base: str
) -> list[str]:
    """Staff and devices for one hall; returns the lines that tell a person where to click.

    Browser devices are paired the way a hall pairs them: a single-use ``/pair/{code}`` link
    that stores the credential in the browser and then opens the device's page.
    """
    out = [f"== {hall.name} ({hall.id})"]

    async def device(
        role: str, name: str, *, window: str | None = None, zone: str | None = None
    ) -> auth.NewDevice:
        return await auth.add_device(
            conn,
            hall=hall.id,
            role=role,
            name=name,
            window=window,
            zone=zone,
            now=now,
            pairing_ttl=DEMO_PAIRING_TTL,
        )

    guide = f"guide-{hall.id}"
    await auth.add_staff(
        conn,
        username=guide,
        name="导办员",
        role="guide",
        hall=hall.id,
        password=DEMO_PASSWORD,
        now=now,
        code="1001",
    )
    kiosk = await device("kiosk", f"{hall.id} kiosk 1")
    out.append(f"  kiosk page          {base}/pair/{kiosk.pairing_code}")
    out.append(f"  guide desk          {base}/guide/{hall.id}   (login {guide})")
    for zone in hall.zones.values():
        screen = await device("display", f"{zone.name} 综合屏", zone=zone.id)
        out.append(f"  hall screen {zone.id:<8}{base}/pair/{screen.pairing_code}")
    out.append(f"  window terminal     {base}/terminal   (staff login below, or a terminal link)")
    for window in hall.windows.values():
        user = f"w{window.id}-{hall.id}"
        await auth.add_staff(
            conn,
            username=user,
            name=f"窗口{window.number}工作人员",
            role="staff",
            hall=hall.id,
            password=DEMO_PASSWORD,
            now=now,
            code=f"2{window.number:03d}",
        )
        term = await device("terminal", f"{window.name} 终端", window=window.id, zone=window.zone)
        screen = await device("display", f"{window.name} 窗口屏", window=window.id)
        out.append(
            f"  window {window.id:<4} login {user:<18} terminal {base}/pair/{term.pairing_code}"
            f"   window screen {base}/pair/{screen.pairing_code}"
        )
    out.append(f"  API token for curl (kiosk): {kiosk.token}")
    out.append(
        f"  try: curl -s -X POST {base}/api/v1/halls/{hall.id}/tickets "
        f"-H 'Authorization: Bearer {kiosk.token}' -H 'Content-Type: application/json' "
        f'-d \'{{"queue": "{next(iter(hall.queues))}"}}\''
    )
    out.append("")
    return out


def run_demo(*, host: str, port: int) -> int:
    import uvicorn

    from server.web.app import WS_MAX_SIZE, create_app

    folder = Path(tempfile.mkdtemp(prefix="hallq-demo-"))
    base = load_config(config_path(None, os.environ))
    config = demo_config(base, folder, host, port)
    for line in asyncio.run(seed(config)):
        print(line)
    print(f"API:  {config.server.public_base_url}/api/v1/halls      health: /health/ready")
    print(f"data: {folder}   (deleted by nobody: remove it when done)")
    app = create_app(config)
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="warning",
        ws="websockets-sansio",
        ws_per_message_deflate=False,
        ws_max_size=WS_MAX_SIZE,
    )
    return 0
