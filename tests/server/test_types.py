"""UTCDateTime: SQLite text exactly as SQLAlchemy's DATETIME writes it, read back as UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import DateTime
from sqlalchemy.dialects import postgresql, sqlite

from server.storage.types import UTCDateTime

SHANGHAI = timezone(timedelta(hours=8))
MOMENTS = [
    datetime(2026, 11, 29, 6, 5, 38, 123456, tzinfo=UTC),
    datetime(2026, 11, 29, 6, 5, 38, tzinfo=UTC),  # no microseconds: still six digits
    datetime(2026, 1, 1, 0, 0, 0, 1, tzinfo=SHANGHAI),  # the previous day in UTC
    datetime(999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
]


@pytest.mark.parametrize("moment", MOMENTS)
def test_sqlite_text_is_sqlalchemys_own(moment: datetime) -> None:
    """Stored strings compare and sort as they did before the fast processor."""
    dialect = sqlite.dialect()
    ours = UTCDateTime().bind_processor(dialect)
    theirs = DateTime().dialect_impl(dialect).bind_processor(dialect)
    assert ours is not None and theirs is not None
    assert ours(moment) == theirs(moment.astimezone(UTC).replace(tzinfo=None))


@pytest.mark.parametrize("moment", MOMENTS)
def test_sqlite_round_trip_is_utc(moment: datetime) -> None:
    dialect = sqlite.dialect()
    bind = UTCDateTime().bind_processor(dialect)
    result = UTCDateTime().result_processor(dialect, None)
    back = result(bind(moment))
    assert back == moment and back.tzinfo is UTC


def test_sqlite_reads_text_without_microseconds_or_with_an_offset() -> None:
    result = UTCDateTime().result_processor(sqlite.dialect(), None)
    assert result("2026-11-29 06:05:38") == datetime(2026, 11, 29, 6, 5, 38, tzinfo=UTC)
    assert result("2026-11-29 14:05:38+08:00") == datetime(2026, 11, 29, 6, 5, 38, tzinfo=UTC)
    assert result(None) is None


def test_naive_datetimes_are_refused_on_both_databases() -> None:
    for dialect in (sqlite.dialect(), postgresql.dialect()):
        bind = UTCDateTime().bind_processor(dialect)
        assert bind is not None
        with pytest.raises(ValueError, match="naive"):
            bind(datetime(2026, 11, 29, 6, 0))
