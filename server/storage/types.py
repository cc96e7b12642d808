"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out.

    SQLite has no time zone support: SQLAlchemy stores a naive string and returns a naive
    datetime, so we normalise to UTC on the way in and re-attach UTC on the way out.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use an aware datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def bind_processor(self, dialect: Dialect) -> Any:
        """On SQLite, one C call to the string SQLAlchemy's DATETIME would write.

        SQLAlchemy formats each value through a dict and a %-template in Python: a few per
        cent of a call-next's CPU with its half-dozen timestamps. The text is identical
        (``YYYY-MM-DD HH:MM:SS.ffffff``, tests/server/test_types.py), so stored values
        compare and sort as before.
        """
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        def process(value: datetime | None) -> str | None:
            naive = self.process_bind_param(value, dialect)
            return None if naive is None else naive.isoformat(" ", "microseconds")

        return process

    def result_processor(self, dialect: Dialect, coltype: Any) -> Any:
        """On SQLite, the stored text straight to ``process_result_value`` (its
        ``fromisoformat`` is C) instead of SQLAlchemy's regex first."""
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)
        return lambda value: self.process_result_value(value, dialect)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # SQLite's text (result_processor above)
            value = datetime.fromisoformat(value)
        moment: datetime = value
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
