"""Reading transaction files for reconciliation, through a :class:`ColumnMapping`.

A mapping lists, for each field, the column names that may hold it (first present wins), so a
new export format is one more mapping, not new code. Files are CSV, JSONL or a JSON array.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from asap_sync.client._money import (
    AmountError,
    format_hkd,
    parse_hkd,
    parse_minor,
    to_minor_units,
)

Duplicates = Literal["report", "sum", "same"]


@dataclass(frozen=True, kw_only=True, slots=True)
class ColumnMapping:
    """Which columns hold each field, and what several records of one key mean.

    ``duplicates``: ``"report"`` lists them as duplicates; ``"sum"`` adds up their amounts;
    ``"same"`` takes them for lines repeating their transaction's fields (a duplicate only if
    the amounts disagree).
    """

    name: str
    out_trans_id: tuple[str, ...]
    direction: tuple[str, ...] = ()
    amount_minor: tuple[str, ...] = ()
    amount_hkd: tuple[str, ...] = ()
    status: tuple[str, ...] = ()
    merchant_id: tuple[str, ...] = ()
    default_direction: str = "pay"
    duplicates: Duplicates = "report"


TRANSACTIONS = ColumnMapping(
    name="transactions",
    out_trans_id=("outTransId", "out_trans_id"),
    direction=("transDirection", "direction"),
    amount_minor=("amount_minor", "amountMinor", "tradeAmt", "amount"),
    amount_hkd=("tradeAmtHkd", "amount_hkd"),
    status=("status", "commissionStatus"),
    merchant_id=("merchantId", "merchant_id"),
)
"""The merchant's own file (a bulk-send input works) or the platform's transaction listing."""

STATEMENT = ColumnMapping(
    name="statement",
    out_trans_id=("out_trans_id", "outTransId"),
    direction=("direction",),
    amount_minor=("transaction_amount_minor", "transactionAmountMinor"),
    merchant_id=("merchant_id", "merchantId"),
    duplicates="same",
)
"""A settlement statement export (``asap-sync statements export``, CSV or JSON, one statement
or a whole period; columns in docs/statements.md): one record per commission line, each
repeating its transaction's ``out_trans_id``, ``direction`` and ``transaction_amount_minor``
(a refund's refunded amount), so the lines of one transaction count once."""

MAPPINGS = {m.name: m for m in (TRANSACTIONS, STATEMENT)}
_STATEMENT_ONLY = frozenset(
    {"transaction_amount_minor", "transactionAmountMinor", "line_id", "lineId", "statement_hash"}
)


def detect_mapping(path: Path) -> ColumnMapping:
    """``STATEMENT`` when the file's first record has a statement export's columns, else
    ``TRANSACTIONS``: a statement export read as transactions would miss every amount."""
    for _line, record in _records(path):
        if isinstance(record, dict):
            return STATEMENT if _STATEMENT_ONLY & record.keys() else TRANSACTIONS
        break
    return TRANSACTIONS


@dataclass(frozen=True, kw_only=True, slots=True)
class Entry:
    """One transaction as a file states it."""

    out_trans_id: str
    direction: str
    amount_minor: int | None
    status: str | None = None
    merchant_id: str | None = None
    line: int = 0

    @property
    def key(self) -> tuple[str, str]:
        return self.out_trans_id, self.direction

    def describe(self) -> str:
        amount = "-" if self.amount_minor is None else format_hkd(self.amount_minor) + " HKD"
        return f"{self.out_trans_id} {self.direction} {amount} (line {self.line})"


@dataclass(frozen=True, kw_only=True, slots=True)
class BadLine:
    """A record that could not be read; reported, never fatal."""

    line: int
    reason: str


def read_entries(path: Path, mapping: ColumnMapping) -> Iterator[Entry | BadLine]:
    """Stream the entries of a CSV, JSONL or JSON-array file."""
    for line, record in _records(path):
        if isinstance(record, str):
            yield BadLine(line=line, reason=record)
            continue
        try:
            yield entry_from_record(line, record, mapping)
        except (ValueError, AmountError) as exc:
            yield BadLine(line=line, reason=str(exc))


def entry_from_record(line: int, record: dict[str, Any], mapping: ColumnMapping) -> Entry:
    """Pick the mapped fields out of one record."""
    out_trans_id = _pick(record, mapping.out_trans_id)
    if not isinstance(out_trans_id, str) or not out_trans_id:
        raise ValueError(f"no out_trans_id (looked for {', '.join(mapping.out_trans_id)})")
    direction = _pick(record, mapping.direction) or mapping.default_direction
    return Entry(
        out_trans_id=out_trans_id,
        direction=str(direction),
        amount_minor=_amount(record, mapping),
        status=_optional_text(_pick(record, mapping.status)),
        merchant_id=_optional_text(_pick(record, mapping.merchant_id)),
        line=line,
    )


def _pick(record: dict[str, Any], names: tuple[str, ...]) -> Any:
    for name in names:
        value = record.get(name)
        if value not in (None, ""):
            return value
    return None


def _amount(record: dict[str, Any], mapping: ColumnMapping) -> int | None:
    hkd = _pick(record, mapping.amount_hkd)
    if hkd is not None:
        return parse_hkd(str(hkd), field="amount_hkd")
    value = _pick(record, mapping.amount_minor)
    if isinstance(value, str) and value.lstrip().startswith("{"):
        value = json.loads(value)
    if isinstance(value, dict):  # a wire price object, {"currency": "HKD", "value": "24800"}
        value = value.get("value")
    if value is None:
        return None
    if isinstance(value, Decimal):
        if value != value.to_integral_value():
            raise AmountError(f"amount: {value} is not a whole number of minor units")
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return to_minor_units(value, field="amount")
    return parse_minor(str(value), field="amount")


def _optional_text(value: Any) -> str | None:
    return None if value is None else str(value)


def _records(path: Path) -> Iterator[tuple[int, dict[str, Any] | str]]:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        yield from _csv_records(path)
    elif suffix == ".json":
        yield from _json_array_records(path)
    else:
        yield from _jsonl_records(path)


def _csv_records(path: Path) -> Iterator[tuple[int, dict[str, Any] | str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        for record in reader:
            yield reader.line_num, {k.strip(): v for k, v in record.items() if k is not None}


def _jsonl_records(path: Path) -> Iterator[tuple[int, dict[str, Any] | str]]:
    with path.open(encoding="utf-8") as handle:
        for line, text in enumerate(handle, start=1):
            if text.strip():
                yield line, _object(text)


def _json_array_records(path: Path) -> Iterator[tuple[int, dict[str, Any] | str]]:
    data = json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
    if isinstance(data, dict):
        data = _json_items(data)
    if not isinstance(data, list):
        yield 0, "a JSON export must be a list of objects (or hold one under 'transactions')"
        return
    for number, item in enumerate(data, start=1):
        yield number, item if isinstance(item, dict) else "not a JSON object"


def _json_items(data: dict[str, Any]) -> Any:
    """The records of an object: a statement's ``lines`` (a period's ``statements`` too),
    each given its statement's ``merchantId``, or a list under ``transactions``/``items``."""
    statements = data.get("statements")
    if isinstance(statements, list):
        return [line for s in statements if isinstance(s, dict) for line in _lines_of(s)]
    if isinstance(data.get("lines"), list):
        return _lines_of(data)
    return data.get("transactions", data.get("items"))


def _lines_of(statement: dict[str, Any]) -> list[Any]:
    merchant = statement.get("merchantId")
    lines = statement.get("lines")
    if not isinstance(lines, list):
        return []
    return [{"merchantId": merchant, **line} if isinstance(line, dict) else line for line in lines]


def _object(text: str) -> dict[str, Any] | str:
    try:
        data = json.loads(text, parse_float=Decimal)
    except ValueError as exc:
        return f"not valid JSON: {exc}"
    return data if isinstance(data, dict) else "not a JSON object"
