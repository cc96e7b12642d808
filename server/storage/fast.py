"""Hot-path statements run on the driver connection: SQLAlchemy compiles, the driver executes.

A SQLAlchemy Core ``execute`` through the async adapter costs 150-300 µs of Python per
statement here (execution context, events, greenlet hops, result proxy), and an issue or a
call-next sends about ten of them: on SQLite that was most of a command's CPU, on PostgreSQL
a third (docs/performance.md). performance.md's finding stands: keep SQLAlchemy for the
schema and the statements, and let the hot paths run "one dialect-specific statement on the
driver connection".

``execute(conn, stmt, params)`` compiles ``stmt`` once per dialect (and per set of parameter
names), then sends the SQL text straight to asyncpg or to the inline sqlite3 connection of the
write engine, applying the same bind and result processors SQLAlchemy would (a SQLite
``DateTime`` is stored as the same text, a JSON column decoded the same way). It runs inside
the connection's open transaction. Whatever it cannot run that way falls back to
``conn.execute``, with the same result interface:

- statements with parameters rendered at execution time (``expanding`` IN lists) or Python-side
  column defaults (computed by SQLAlchemy's execution context);
- aiosqlite connections (reads, in-memory databases): their driver runs on another thread;
- connections someone listens to with ``before_cursor_execute`` (profilers, the query-plan
  tests capture the statements that way).

Errors are raised as SQLAlchemy's (``IntegrityError``, ``DBAPIError`` …), so callers and
``Database``'s mapping to ``StoreUnavailable`` see no difference; a lost connection is
invalidated as SQLAlchemy would do. Only statements built once (module level) should be given
here: the compiled form is cached per statement object.
"""

from __future__ import annotations

import re
import sqlite3
from collections import namedtuple
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.exc import DBAPIError, MultipleResultsFound, NoResultFound
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import ClauseElement, Executable

from server.storage.inline_sqlite import InlineConnection

# Tests turn this off to compare the two paths row by row (tests/server/test_fast_sql.py).
enabled = True

Params = Mapping[str, Any]
# A row read here: SQLAlchemy's ``Row`` on the fallback, else a named tuple. Both give the
# columns as attributes and by position, which is all callers may rely on.
Record = Any
_STATUS_COUNT = re.compile(r"(?:SELECT|UPDATE|DELETE|INSERT \d+) (\d+)")


@dataclass(slots=True)
class _Compiled:
    """One statement compiled for one dialect and set of parameter names."""

    sql: str
    compiled: Any
    order: tuple[str, ...]  # bound names in driver (positional) order
    binds: tuple[tuple[str, Callable[[Any], Any]], ...]
    keys: tuple[str, ...] | None  # result column names, when SQLAlchemy knows them
    types: tuple[Any, ...]  # their SQLAlchemy types
    row_type: Any
    returns_rows: bool
    # Result processors, made on first use: asyncpg's depend on the column's type oid.
    results: tuple[Callable[[Any], Any] | None, ...] | None = None

    def args(self, params: Params) -> list[Any]:
        values = self.compiled.construct_params(params)
        for name, process in self.binds:
            values[name] = process(values[name])
        return [values[name] for name in self.order]


class FastResult:
    """The part of SQLAlchemy's ``Result`` the hot paths use."""

    __slots__ = ("_rows", "rowcount")

    def __init__(self, rows: list[Any], rowcount: int) -> None:
        self._rows = rows
        self.rowcount = rowcount

    def __iter__(self) -> Iterator[Any]:
        return iter(self._rows)

    def all(self) -> list[Any]:
        return self._rows

    def first(self) -> Any:
        return self._rows[0] if self._rows else None

    def one(self) -> Any:
        if not self._rows:
            raise NoResultFound("No row was found when one was required")
        if len(self._rows) > 1:
            raise MultipleResultsFound("Multiple rows were found when exactly one was required")
        return self._rows[0]

    def one_or_none(self) -> Any:
        return None if not self._rows else self.one()

    def scalar(self) -> Any:
        return self._rows[0][0] if self._rows else None

    def scalar_one(self) -> Any:
        return self.one()[0]

    def scalar_one_or_none(self) -> Any:
        row = self.one_or_none()
        return None if row is None else row[0]

    def scalars(self) -> list[Any]:
        return [row[0] for row in self._rows]


async def execute(
    conn: AsyncConnection, stmt: Executable, params: Params | Sequence[Params] | None = None
) -> Any:
    """``conn.execute(stmt, params)``, on the driver connection when it can be.

    Returns a ``FastResult`` (or SQLAlchemy's ``Result`` on the fallback): ``one``, ``first``,
    ``all``, ``scalar*``, iteration and ``rowcount``.
    """
    many = isinstance(params, Sequence) and not isinstance(params, Mapping)
    rows: Sequence[Params] = params if many else [params or {}]  # type: ignore[assignment,list-item]
    driver = _driver(conn) if enabled and rows else None
    if driver is None:
        return await _through_sqlalchemy(conn, stmt, params)
    assert isinstance(stmt, ClauseElement)
    compiled = _compile(conn.dialect, stmt, tuple(rows[0]), many)
    if compiled is None:
        return await _through_sqlalchemy(conn, stmt, params)
    try:
        if isinstance(driver, sqlite3.Connection):
            return _run_sqlite(driver, conn.dialect, compiled, rows, many)
        return await _run_asyncpg(conn, driver, compiled, rows, many)
    except DBAPIError:
        raise
    except Exception as exc:
        error = await _translate(conn, compiled, rows, exc)
        if error is exc:
            raise
        raise error from exc


async def _through_sqlalchemy(
    conn: AsyncConnection, stmt: Executable, params: Params | Sequence[Params] | None
) -> Any:
    """The fallback (a test watches it: hot commands must never take it)."""
    return await conn.execute(stmt, params)


def _driver(conn: AsyncConnection) -> Any:
    """asyncpg's connection or the inline sqlite3 one, else None (use SQLAlchemy)."""
    sync = conn.sync_connection
    if sync is None or sync.dispatch.before_cursor_execute:
        return None
    fairy = sync.connection
    driver = fairy.driver_connection
    if isinstance(driver, InlineConnection):
        return driver.raw
    if conn.dialect.driver == "asyncpg":
        return driver
    return None


_cache: dict[tuple[str, ClauseElement, tuple[str, ...], bool], _Compiled | None] = {}


def _compile(
    dialect: Dialect, stmt: ClauseElement, names: tuple[str, ...], many: bool
) -> _Compiled | None:
    key = (dialect.name, stmt, names, many)
    try:
        return _cache[key]
    except KeyError:
        pass
    compiled: Any = stmt.compile(dialect=dialect, column_keys=list(names), for_executemany=many)
    runnable = not (
        "POSTCOMPILE" in compiled.string
        or getattr(compiled, "insert_prefetch", None)
        or getattr(compiled, "update_prefetch", None)
        or getattr(compiled, "literal_execute_params", None)
        or getattr(compiled, "post_compile_params", None)
    )
    result: _Compiled | None = None
    if runnable:
        order = tuple(compiled.positiontup or ())
        binds = tuple(compiled._bind_processors.items())
        columns = getattr(compiled, "_result_columns", None) or []
        keys = tuple(c[0] for c in columns) or None
        row_type = namedtuple("Row", keys, rename=True) if keys else None
        returns_rows = bool(compiled.returning) or bool(keys) or _is_select_text(compiled)
        result = _Compiled(
            sql=compiled.string,
            compiled=compiled,
            order=order,
            binds=binds,
            keys=keys,
            types=tuple(c[3] for c in columns),
            row_type=row_type,
            returns_rows=returns_rows,
        )
    _cache[key] = result
    return result


def _processors(
    compiled: _Compiled, dialect: Dialect, coltypes: Sequence[Any]
) -> tuple[Callable[[Any], Any] | None, ...]:
    if len(coltypes) != len(compiled.types):
        return ()
    return tuple(
        t._cached_result_processor(dialect, coltype)
        for t, coltype in zip(compiled.types, coltypes, strict=True)
    )


def _is_select_text(compiled: Any) -> bool:
    """A ``text()`` statement: assume it returns rows when it reads like a query."""
    head = compiled.string.lstrip()[:6].upper()
    return head in ("SELECT", "WITH") or " RETURNING " in compiled.string.upper()


def _rows(compiled: _Compiled, raw: list[Any], keys: Sequence[str]) -> list[Any]:
    row_type = compiled.row_type
    if row_type is None:
        row_type = _row_type(tuple(keys))
    processors = compiled.results
    if not processors or not any(processors):
        return [row_type(*r) for r in raw]
    return [
        row_type(*(p(v) if p is not None else v for p, v in zip(processors, r, strict=True)))
        for r in raw
    ]


_row_types: dict[tuple[str, ...], Any] = {}


def _row_type(keys: tuple[str, ...]) -> Any:
    row_type = _row_types.get(keys)
    if row_type is None:
        row_type = _row_types[keys] = namedtuple("Row", keys, rename=True)
    return row_type


def _run_sqlite(
    raw: sqlite3.Connection,
    dialect: Dialect,
    compiled: _Compiled,
    rows: Sequence[Params],
    many: bool,
) -> FastResult:
    cur = raw.cursor()
    try:
        if many:
            cur.executemany(compiled.sql, [compiled.args(p) for p in rows])
            return FastResult([], cur.rowcount)
        cur.execute(compiled.sql, compiled.args(rows[0]))
        if cur.description is None:
            return FastResult([], cur.rowcount)
        if compiled.results is None:
            compiled.results = _processors(compiled, dialect, [None] * len(compiled.types))
        fetched = cur.fetchall()
        keys = [d[0] for d in cur.description]
        count = cur.rowcount if cur.rowcount >= 0 else len(fetched)
        return FastResult(_rows(compiled, fetched, keys), count)
    finally:
        cur.close()


async def _run_asyncpg(
    conn: AsyncConnection, driver: Any, compiled: _Compiled, rows: Sequence[Params], many: bool
) -> FastResult:
    adapter: Any = conn.sync_connection.connection.dbapi_connection  # type: ignore[union-attr]
    # SQLAlchemy's asyncpg adapter sends BEGIN lazily, with the first statement: a statement
    # sent here first would otherwise run (and commit) on its own.
    if adapter._transaction is None:
        await adapter._start_transaction()
    if many:
        await driver.executemany(compiled.sql, [compiled.args(p) for p in rows])
        return FastResult([], len(rows))
    args = compiled.args(rows[0])
    if not compiled.returns_rows:
        status = await driver.execute(compiled.sql, *args)
        match = _STATUS_COUNT.match(status or "")
        return FastResult([], int(match.group(1)) if match else -1)
    if compiled.results is None:
        # The column type oids, as SQLAlchemy's adapter reads them from its prepared statement.
        prepared = await driver.prepare(compiled.sql)
        oids = [a.type.oid for a in prepared.get_attributes()]
        compiled.results = _processors(compiled, conn.dialect, oids)
    fetched = await driver.fetch(compiled.sql, *args)
    keys = list(fetched[0].keys()) if fetched else list(compiled.keys or ())
    return FastResult(_rows(compiled, fetched, keys), len(fetched))


async def _translate(
    conn: AsyncConnection, compiled: _Compiled, rows: Sequence[Params], exc: Exception
) -> Exception:
    """The driver's error as SQLAlchemy would raise it (invalidating a lost connection)."""
    sync = conn.sync_connection
    assert sync is not None
    dialect = sync.dialect
    orig: Exception = exc
    adapter = sync.connection.dbapi_connection
    handle = getattr(adapter, "_handle_exception", None)
    if handle is not None:  # asyncpg: the adapter maps its errors onto its DBAPI classes
        try:
            handle(exc)
        except Exception as mapped:  # noqa: BLE001 - whatever it maps to is what we raise
            orig = mapped
    if not isinstance(orig, dialect.loaded_dbapi.Error):
        return exc  # not the database's error (a bug of ours): raised as it is
    invalidated = False
    if dialect.is_disconnect(orig, adapter, None):
        invalidated = True
        await conn.invalidate(orig)
    params = rows if len(rows) > 1 else rows[0]
    error = DBAPIError.instance(
        compiled.sql,
        params,
        orig,
        dialect.loaded_dbapi.Error,
        connection_invalidated=invalidated,
        dialect=dialect,
    )
    return error
