"""The migrations build exactly the schema server/storage/tables.py declares."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from server.storage.db import Database
from server.storage.migrate import upgrade
from server.storage.tables import metadata


async def test_migrations_match_the_tables(database_url: str) -> None:
    """After `upgrade`, autogenerate finds no difference between the database and tables.py."""
    db = Database(database_url)
    try:
        await upgrade(db)
        async with db.engine.connect() as conn:

            def diff(sync_conn: Any) -> list[Any]:
                return list(compare_metadata(MigrationContext.configure(sync_conn), metadata))

            assert await conn.run_sync(diff) == []
    finally:
        await db.dispose()
