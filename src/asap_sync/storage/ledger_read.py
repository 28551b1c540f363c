"""What a batch reads from the ledger: the statements (per dialect) and the view they make.

Keys travel as one JSON array per statement (``json_to_recordset`` on PostgreSQL, ``json_each``
on SQLite), so each statement is the same text whatever the batch's size. Each statement is a
probe of a unique or foreign-key index per key.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, cast

from asap_sync.domain.model import (
    CommissionStatus,
    Direction,
    StoredLine,
    Transaction,
)
from asap_sync.service.ports import Binding, LedgerKeys, LedgerView, StoredTransaction
from asap_sync.storage.ledger_rows import compact_json

_TRANSACTION_COLUMNS = (
    "transaction_id, merchant_id, out_trans_id, direction, trans_date, amount_minor, status, "
    "content, contract_id, origin_id, sub_merchant_id, store_id, revision"
)
_LINE_COLUMNS = (
    "line_id, transaction_id, line_no, contract_id, rule_kind, rule_value, base_minor, "
    "commission_e4, goods_index, goods_code, reverses_line_id"
)


def _prefixed(alias: str, columns: str) -> str:
    return ", ".join(f"{alias}.{c.strip()}" for c in columns.split(","))


Join = Callable[[str, str, str], str]


def _queries(join: Join) -> dict[str, tuple[str, str]]:
    """Each read's (parameter, statement); ``join(table, alias, condition)`` writes a join of
    ``table`` to the rows before it, for one dialect. ``{keys}`` stands for the key table."""
    by_key = "{keys}" + join("transactions", "o", "o.merchant_id = k.a AND o.out_trans_id = k.b")
    refunds = join("transactions", "t", "t.origin_id = o.transaction_id")
    return {
        # name: (parameter, statement)
        "version": ("", "SELECT version FROM directory_version WHERE id = 1"),
        "bindings": (
            "bindings",
            "SELECT b.client_id, b.request_id, b.merchant_id, b.out_trans_id, b.content FROM {keys}"
            + join("request_bindings", "b", "b.client_id = k.a AND b.request_id = k.b"),
        ),
        "transactions": (
            "transactions",
            f"SELECT {_prefixed('o', _TRANSACTION_COLUMNS)} FROM {by_key}",
        ),
        "refunds": (
            "transactions",
            f"SELECT {_prefixed('t', _TRANSACTION_COLUMNS)} FROM {by_key}{refunds}"
            " ORDER BY t.transaction_id",
        ),
        "lines": (
            "transactions",
            f"SELECT {_prefixed('l', _LINE_COLUMNS)} FROM {by_key}"
            + join(
                "commission_lines",
                "l",
                "l.transaction_id = o.transaction_id AND l.superseded_at IS NULL",
            )
            + " ORDER BY l.transaction_id, l.line_no",
        ),
        # What the active reversal lines of each origin's refunds have reversed, per origin line.
        "reversed": (
            "transactions",
            f"SELECT o.transaction_id, l.reverses_line_id, sum(l.commission_e4) FROM {by_key}"
            + refunds
            + join(
                "commission_lines",
                "l",
                "l.transaction_id = t.transaction_id AND l.superseded_at IS NULL"
                " AND l.reverses_line_id IS NOT NULL",
            )
            + " GROUP BY o.transaction_id, l.reverses_line_id",
        ),
        # Which merchants linked to the client hold a pay with a refund's originTransId.
        "origins": (
            "origins",
            "SELECT cm.client_id, t.out_trans_id, t.merchant_id FROM {keys}"
            + join("client_merchants", "cm", "cm.client_id = k.a")
            + join(
                "transactions",
                "t",
                "t.merchant_id = cm.merchant_id AND t.out_trans_id = k.b AND t.direction = 'pay'",
            ),
        ),
    }


def _join_sqlite(table: str, alias: str, condition: str) -> str:
    return f" JOIN {table} {alias} ON {condition}"


def _join_postgres(table: str, alias: str, condition: str) -> str:
    """A lateral probe per row before it: ``OFFSET 0`` keeps PostgreSQL from flattening it
    into a join it may plan as a hash join over a sequential scan (its estimate of the keys'
    count is a constant 100, and a plan cached while a table was small stays)."""
    return f" CROSS JOIN LATERAL (SELECT * FROM {table} {alias} WHERE {condition} OFFSET 0) {alias}"


EXISTING_ONLY = ("refunds", "lines", "reversed")  # empty unless some transaction exists


def key_table(dialect: str, parameter: str) -> str:
    """A table ``k(a, b)`` of the pairs in the JSON parameter ``parameter``."""
    if dialect == "postgresql":
        return (
            f"(SELECT * FROM json_to_recordset(CAST(%({parameter})s AS json))"
            " AS j(a text, b text)) AS k"
        )
    return (
        "(SELECT json_extract(value, '$.a') AS a, json_extract(value, '$.b') AS b"
        f" FROM json_each(:{parameter})) AS k"
    )


def statements(dialect: str) -> dict[str, tuple[str, str]]:
    """Each read's parameter name and its statement, for one dialect."""
    queries = _queries(_join_postgres if dialect == "postgresql" else _join_sqlite)
    return {
        name: (
            parameter,
            sql.replace("{keys}", key_table(dialect, parameter) if parameter else ""),
        )
        for name, (parameter, sql) in queries.items()
    }


def one_statement_postgres() -> str:
    """Every read of :func:`statements` as one PostgreSQL statement, which sees one snapshot
    (no transaction to open and close): one row, each read's rows as a JSON array of objects
    in its column order."""
    columns = []
    for name, (_, sql) in statements("postgresql").items():
        if name == "version":
            columns.append(f"({sql}) AS version")
        else:
            columns.append(f"(SELECT coalesce(json_agg(r), '[]') FROM ({sql}) AS r) AS {name}")
    return "SELECT " + ", ".join(columns)


def key_parameters(keys: LedgerKeys) -> dict[str, str]:
    """The JSON parameters of the reads."""
    return {
        "bindings": pairs_json(keys.bindings),
        "transactions": pairs_json(keys.transactions),
        "origins": pairs_json(keys.origins),
    }


def pairs_json(pairs: Iterable[tuple[str, str]]) -> str:
    """Key pairs as the JSON parameter of :func:`key_table`."""
    return compact_json([{"a": a, "b": b} for a, b in sorted(pairs)])


def as_utc(value: Any) -> datetime:
    """A timestamp as read through the driver: aware (PostgreSQL) or naive UTC text (SQLite)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def view_of(rows: Mapping[str, Sequence[Sequence[Any]]]) -> LedgerView:
    """The view made of every read's rows (the ones not run count as empty)."""
    version_rows = rows["version"]
    refunds: dict[int, list[Transaction]] = {}
    for row in rows.get("refunds", ()):
        refund = _transaction(row)
        assert refund.origin_id is not None
        refunds.setdefault(refund.origin_id, []).append(refund)
    lines: dict[int, list[StoredLine]] = {}
    for row in rows.get("lines", ()):
        lines.setdefault(int(row[1]), []).append(_line(row))
    reversed_by: dict[int, dict[int, int]] = {}
    for origin_id, line_id, total in rows.get("reversed", ()):
        reversed_by.setdefault(int(origin_id), {})[int(line_id)] = -int(total)
    stored: dict[tuple[str, str], StoredTransaction] = {}
    for row in rows.get("transactions", ()):
        transaction = _transaction(row)
        tid = transaction.transaction_id
        stored[(transaction.merchant_id, transaction.out_trans_id)] = StoredTransaction(
            transaction=transaction,
            revision=int(row[12]),
            lines=tuple(lines.get(tid, ())),
            refunds=tuple(refunds.get(tid, ())),
            reversed_by_line=reversed_by.get(tid, {}),
        )
    origins: dict[tuple[str, str], set[str]] = {}
    for client_id, out_trans_id, merchant_id in rows.get("origins", ()):
        origins.setdefault((client_id, out_trans_id), set()).add(merchant_id)
    return LedgerView(
        directory_version=int(version_rows[0][0]) if version_rows else None,
        bindings={
            (r[0], r[1]): Binding(
                client_id=r[0],
                request_id=r[1],
                merchant_id=r[2],
                out_trans_id=r[3],
                content=json.loads(r[4]),
            )
            for r in rows.get("bindings", ())
        },
        transactions=stored,
        origin_merchants={key: frozenset(found) for key, found in origins.items()},
    )


def _transaction(row: Sequence[Any]) -> Transaction:
    return Transaction(
        transaction_id=int(row[0]),
        merchant_id=row[1],
        out_trans_id=row[2],
        direction=cast(Direction, row[3]),
        trans_date=as_utc(row[4]),
        amount_minor=int(row[5]),
        status=CommissionStatus(row[6]),
        content=json.loads(row[7]),
        contract_id=row[8],
        origin_id=None if row[9] is None else int(row[9]),
        sub_merchant_id=row[10],
        store_id=row[11],
    )


def _line(row: Sequence[Any]) -> StoredLine:
    return StoredLine(
        line_id=int(row[0]),
        line_no=int(row[2]),
        contract_id=row[3],
        rule_kind=row[4],
        rule_value=int(row[5]),
        base_minor=int(row[6]),
        commission_e4=int(row[7]),
        goods_index=row[8],
        goods_code=row[9],
        reverses_line_id=None if row[10] is None else int(row[10]),
    )
