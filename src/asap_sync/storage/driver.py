"""Hot-path statements, executed through the driver with SQL compiled once from Core.

For the small statements of a sync, SQLAlchemy's per-execution bookkeeping (parameter processing,
result set-up) costs more than the driver's own work. The statements stay defined as Core
constructs; SQLAlchemy compiles each once per dialect, and only the execution goes straight to
the DBAPI cursor, with the one conversion the schema's types would have made: timestamps, which
SQLite stores as naive UTC text.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect

SQLITE_TIMESTAMP = "%Y-%m-%d %H:%M:%S.%f"  # SQLAlchemy's own storage format for SQLite


class DriverStatement:
    """An INSERT of a fixed set of columns (optionally ``… RETURNING``), or a SELECT whose
    result needs no type conversion (ids, counts, existence)."""

    def __init__(self, statements: Mapping[str, Any] | Any, columns: Sequence[str] = ()) -> None:
        """``statements``: one Core construct, or one per dialect name."""
        self._statements = statements
        self._columns = list(columns)
        self._compiled: dict[str, tuple[str, tuple[str, ...] | None]] = {}
        self._lock = threading.Lock()

    def first(self, conn: Connection, values: Mapping[str, Any]) -> Any:
        """Run it once; the first row it returns, or None."""
        sql, order, sqlite = self._prepare(conn)
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(sql, _parameters(values, order, sqlite))
            return cursor.fetchone()
        finally:
            cursor.close()

    def many(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert several rows in one call."""
        sql, order, sqlite = self._prepare(conn)
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.executemany(sql, [_parameters(row, order, sqlite) for row in rows])
        finally:
            cursor.close()

    def _prepare(self, conn: Connection) -> tuple[str, tuple[str, ...] | None, bool]:
        name = conn.dialect.name
        compiled = self._compiled.get(name)
        if compiled is None:
            with self._lock:
                compiled = self._compiled[name] = self._compile(conn.dialect)
        return compiled[0], compiled[1], name == "sqlite"

    def _compile(self, dialect: Dialect) -> tuple[str, tuple[str, ...] | None]:
        statement = self._statements
        if isinstance(statement, Mapping):
            statement = statement[dialect.name]
        compiled = statement.compile(dialect=dialect, column_keys=self._columns or None)
        order = tuple(compiled.positiontup) if compiled.positional else None
        return compiled.string, order


def _parameters(values: Mapping[str, Any], order: tuple[str, ...] | None, sqlite: bool) -> Any:
    if order is None:
        return {key: _adapt(value, sqlite) for key, value in values.items()}
    return [_adapt(values[key], sqlite) for key in order]


def _adapt(value: Any, sqlite: bool) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored")
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None).strftime(SQLITE_TIMESTAMP) if sqlite else utc
    return value
