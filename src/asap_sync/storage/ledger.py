"""The ledger adapter (:class:`asap_sync.service.ports.Ledger`) for SQLite and PostgreSQL.

It holds one driver connection, used by one batch at a time (the ingestor's writer): the
statements go straight to the DBAPI, as plain SQL, with no per-sync ORM work.

- A read runs every statement of :mod:`asap_sync.storage.ledger_read` at one snapshot: on
  PostgreSQL as one statement (one round trip), on SQLite in one read transaction.
- An apply writes the plan in one transaction: on PostgreSQL one statement, which commits on
  its own (:mod:`asap_sync.storage.ledger_postgres`); on SQLite one ``BEGIN IMMEDIATE``
  (:mod:`asap_sync.storage.ledger_sqlite`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Engine

from asap_sync.service.ports import LedgerKeys, LedgerView, WritePlan
from asap_sync.storage import ledger_sqlite
from asap_sync.storage.engine import write_lock
from asap_sync.storage.ledger_postgres import APPLY, plan_json
from asap_sync.storage.ledger_read import (
    EXISTING_ONLY,
    key_parameters,
    one_statement_postgres,
    statements,
    view_of,
)

log = logging.getLogger("asap_sync.ledger")

T = TypeVar("T")

# A concurrent writer took a key first (or the two deadlocked): decide the batch again.
CONTENTION_SQLSTATES = frozenset({"23505", "40P01", "40001"})
READ_POSTGRES = one_statement_postgres()


class SqlLedger:
    """Implements :class:`asap_sync.service.ports.Ledger` on an engine's database."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._postgres = engine.dialect.name == "postgresql"
        self._reads = statements(engine.dialect.name)
        self._driver: Any = None  # the pool's connection record, kept between batches

    def read(self, keys: LedgerKeys) -> LedgerView:
        parameters = key_parameters(keys)
        if self._postgres:
            return view_of(self._with_driver(lambda conn: _read_postgres(conn, parameters)))
        wanted = [
            name
            for name, (parameter, _) in self._reads.items()
            if name == "version" or (parameter and parameters[parameter] != "[]")
        ]
        return view_of(self._with_driver(lambda conn: self._read_sqlite(conn, wanted, parameters)))

    def apply(self, plan: WritePlan) -> frozenset[int]:
        if not plan.syncs:
            return frozenset()
        if self._postgres:
            return self._with_driver(lambda conn: _apply_postgres(conn, plan))
        with write_lock(self._engine):
            return self._with_driver(lambda conn: _apply_sqlite(conn, plan))

    def _with_driver(self, work: Callable[[Any], T]) -> T:
        if self._driver is None:
            self._driver = self._engine.raw_connection()
        try:
            return work(self._driver.dbapi_connection)
        except BaseException:
            driver, self._driver = self._driver, None
            driver.invalidate()  # its state is unknown: never used again
            raise

    def _read_sqlite(
        self, conn: Any, wanted: list[str], parameters: dict[str, str]
    ) -> dict[str, list[Any]]:
        cursor = conn.cursor()
        rows: dict[str, list[Any]] = {}
        try:
            cursor.execute("BEGIN")
            for name in wanted:
                if name in EXISTING_ONLY and not rows.get("transactions"):
                    continue
                parameter, sql = self._reads[name]
                rows[name] = cursor.execute(
                    sql, {parameter: parameters[parameter]} if parameter else ()
                ).fetchall()
            cursor.execute("COMMIT")
        finally:
            cursor.close()
        return rows


def _read_postgres(conn: Any, parameters: dict[str, str]) -> dict[str, list[Any]]:
    """One statement (one snapshot, one round trip); its JSON arrays made rows again."""
    conn.autocommit = True
    cursor = conn.cursor()
    try:
        cursor.execute(READ_POSTGRES, parameters)
        row = cursor.fetchone()
        names = [column.name for column in cursor.description]
    finally:
        cursor.close()
    rows: dict[str, list[Any]] = {"version": [] if row[0] is None else [(row[0],)]}
    for name, found in zip(names[1:], row[1:], strict=True):
        rows[name] = [tuple(item.values()) for item in found]
    return rows


def _apply_postgres(conn: Any, plan: WritePlan) -> frozenset[int]:
    """One statement, committed on its own (autocommit): one round trip."""
    from psycopg import RawCursor  # the postgres extra's driver: $1, $2 as they are

    conn.autocommit = True
    cursor = RawCursor(conn)
    try:
        cursor.execute(APPLY, (plan_json(plan.syncs), plan.directory_version))
        written = {int(row[0]) for row in cursor.fetchall()}
    except Exception as exc:
        if getattr(exc, "sqlstate", None) in CONTENTION_SQLSTATES:
            log.info("a concurrent writer came first; the batch is decided again: %s", exc)
            return frozenset(s.sync for s in plan.syncs)
        raise
    finally:
        cursor.close()
    return frozenset(s.sync for s in plan.syncs if s.sync not in written)


def _apply_sqlite(conn: Any, plan: WritePlan) -> frozenset[int]:
    cursor = conn.cursor()
    try:
        cursor.execute("BEGIN IMMEDIATE")
        try:
            ok, ids = ledger_sqlite.writable(cursor, plan)
            ledger_sqlite.write(cursor, ok, ids)
            cursor.execute("COMMIT")
        except BaseException:
            cursor.execute("ROLLBACK")
            raise
    finally:
        cursor.close()
    written = {s.sync for s in ok}
    return frozenset(s.sync for s in plan.syncs if s.sync not in written)
