"""Database handle: failures become StoreUnavailable (HTTP 503), never a crash."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from server.domain.errors import StoreUnavailable
from server.storage.db import Database


async def test_pool_exhaustion_is_store_unavailable(tmp_path: Path) -> None:
    """When every pooled connection is busy, callers get StoreUnavailable (503), not a crash."""
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'pool.db'}")
    await db.engine.dispose()
    db.engine = create_async_engine(
        f"sqlite+aiosqlite:///{tmp_path / 'pool.db'}", pool_size=1, max_overflow=0, pool_timeout=0.2
    )
    try:
        async with db.engine.connect():
            with pytest.raises(StoreUnavailable):
                async with db.read() as conn:
                    await conn.exec_driver_sql("SELECT 1")
    finally:
        await db.dispose()
