"""Statement exports, CSV and JSON, per statement and per period, written as they stream.

Columns and fields are documented in docs/statements.md; amounts appear in minor units and as
decimal HKD strings, commission in 1/10000 minor units (``e4``) and as exact HKD.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Collection, Iterable, Iterator, Sequence
from typing import Any, TextIO

from asap_sync.domain.money import format_e4_hkd, format_minor_hkd
from asap_sync.domain.settlement import Statement, StatementLine
from asap_sync.service.settlement_ports import StatementQueries

CSV_COLUMNS = (
    "period",
    "statement_id",
    "merchant_id",
    "statement_hash",
    "out_trans_id",
    "direction",
    "trans_date",
    "accepted_period",
    "transaction_amount_minor",
    "transaction_amount_hkd",
    "origin_out_trans_id",
    "line_id",
    "line_no",
    "goods_index",
    "goods_code",
    "contract_id",
    "rule_kind",
    "rule_value",
    "base_minor",
    "base_hkd",
    "commission_e4",
    "commission_hkd",
    "reverses_line_id",
    "reverses_statement_id",
)


class StatementNotFound(LookupError):
    """No statement has that id."""


def statement_fields(statement: Statement) -> dict[str, Any]:
    """A statement's header as JSON fields."""
    t = statement.totals
    return {
        "statementId": statement.statement_id,
        "period": statement.period,
        "merchantId": statement.merchant_id,
        "status": statement.status.value,
        "contentHash": statement.content_hash,
        "transactionCount": t.transaction_count,
        "payCount": t.pay_count,
        "refundCount": t.refund_count,
        "grossMinor": t.gross_minor,
        "grossHkd": format_minor_hkd(t.gross_minor),
        "refundedMinor": t.refunded_minor,
        "refundedHkd": format_minor_hkd(t.refunded_minor),
        "netMinor": t.net_minor,
        "netHkd": format_minor_hkd(t.net_minor),
        "lineCount": statement.line_count,
        "commissionE4": statement.commission_e4,
        "commissionExactHkd": format_e4_hkd(statement.commission_e4),
        "commissionMinor": statement.commission_minor,
        "commissionHkd": format_minor_hkd(statement.commission_minor),
        "createdAt": statement.created_at.isoformat() if statement.created_at else None,
        "assignedAt": statement.assigned_at.isoformat() if statement.assigned_at else None,
    }


def line_fields(line: StatementLine) -> dict[str, Any]:
    """A line as JSON fields."""
    return {
        "lineId": line.line_id,
        "outTransId": line.out_trans_id,
        "direction": line.direction,
        "transDate": line.trans_date.isoformat(),
        "acceptedPeriod": line.accepted_period,
        "transactionAmountMinor": line.transaction_amount_minor,
        "transactionAmountHkd": format_minor_hkd(line.transaction_amount_minor),
        "originOutTransId": line.origin_out_trans_id,
        "lineNo": line.line_no,
        "goodsIndex": line.goods_index,
        "goodsCode": line.goods_code,
        "contractId": line.contract_id,
        "ruleKind": line.rule_kind,
        "ruleValue": line.rule_value,
        "baseMinor": line.base_minor,
        "baseHkd": format_minor_hkd(line.base_minor),
        "commissionE4": line.commission_e4,
        "commissionHkd": format_e4_hkd(line.commission_e4),
        "reversesLineId": line.reverses_line_id,
        "reversesStatementId": line.reverses_statement_id,
    }


def _csv_row(statement: Statement, line: StatementLine) -> list[Any]:
    f = line_fields(line)
    return [
        statement.period,
        statement.statement_id,
        statement.merchant_id,
        statement.content_hash,
        *(
            "" if f[key] is None else f[key]
            for key in (
                "outTransId",
                "direction",
                "transDate",
                "acceptedPeriod",
                "transactionAmountMinor",
                "transactionAmountHkd",
                "originOutTransId",
                "lineId",
                "lineNo",
                "goodsIndex",
                "goodsCode",
                "contractId",
                "ruleKind",
                "ruleValue",
                "baseMinor",
                "baseHkd",
                "commissionE4",
                "commissionHkd",
                "reversesLineId",
                "reversesStatementId",
            )
        ),
    ]


def _one(queries: StatementQueries, statement_id: int) -> Statement:
    statement = queries.statement(statement_id)
    if statement is None:
        raise StatementNotFound(f"no statement {statement_id}")
    return statement


def csv_rows(
    queries: StatementQueries, statements: Iterable[Statement], columns: Sequence[str] = CSV_COLUMNS
) -> Iterator[list[Any]]:
    """The header row, then one row per line of each statement, with the chosen columns."""
    keep = [CSV_COLUMNS.index(c) for c in columns]
    yield list(columns)
    for statement in statements:
        for line in queries.lines(statement.statement_id):
            row = _csv_row(statement, line)
            yield row if len(keep) == len(CSV_COLUMNS) else [row[i] for i in keep]


def write_csv(queries: StatementQueries, statements: Iterable[Statement], out: TextIO) -> int:
    """One header row, then one row per line of each statement; returns the line count."""
    writer = csv.writer(out, lineterminator="\n")
    rows = csv_rows(queries, statements)
    writer.writerow(next(rows))
    count = 0
    for row in rows:
        writer.writerow(row)
        count += 1
    return count


def write_statement_csv(queries: StatementQueries, statement_id: int, out: TextIO) -> int:
    """The CSV export of one statement."""
    return write_csv(queries, [_one(queries, statement_id)], out)


def write_period_csv(queries: StatementQueries, period: str, out: TextIO) -> int:
    """The CSV export of every statement of a period."""
    return write_csv(queries, queries.statements(period=period), out)


def statement_json_chunks(
    queries: StatementQueries, statement: Statement, line_keys: Collection[str] | None = None
) -> Iterator[str]:
    """One statement's JSON export in pieces: its fields plus ``lines`` (with ``line_keys``)."""
    head = json.dumps(statement_fields(statement), ensure_ascii=False)
    yield head[:-1] + ', "lines": ['
    for n, line in enumerate(queries.lines(statement.statement_id)):
        fields = line_fields(line)
        if line_keys is not None:
            fields = {k: v for k, v in fields.items() if k in line_keys}
        yield ("" if n == 0 else ",") + "\n  " + json.dumps(fields, ensure_ascii=False)
    yield "\n]}"


def period_json_chunks(
    queries: StatementQueries, period: str, line_keys: Collection[str] | None = None
) -> Iterator[str]:
    """``{"period": ..., "statements": [...]}`` in pieces."""
    yield json.dumps({"period": period})[:-1] + ', "statements": ['
    for count, statement in enumerate(queries.statements(period=period)):
        yield "\n" if count == 0 else ",\n"
        yield from statement_json_chunks(queries, statement, line_keys)
    yield "\n]}\n"


def write_statement_json(queries: StatementQueries, statement_id: int, out: TextIO) -> None:
    """The JSON export of one statement: its fields plus ``lines``."""
    out.writelines(statement_json_chunks(queries, _one(queries, statement_id)))
    out.write("\n")


def write_period_json(queries: StatementQueries, period: str, out: TextIO) -> int:
    """``{"period": ..., "statements": [...]}``; returns the number of statements."""
    count = 0
    for chunk in period_json_chunks(queries, period):
        out.write(chunk)
        count += chunk == "\n]}"
    return count
