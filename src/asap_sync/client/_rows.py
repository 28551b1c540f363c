"""Reading transaction files for bulk sending: JSONL or CSV, streamed, one row at a time.

Each row becomes a checked :class:`wire.SyncRequest` or an error naming its line. A row uses
the wire field names (``merchantId``, ``outTransId``, ``transDate`` ...) with conveniences:

- ``requestId`` defaults to ``outTransId`` and ``transType`` to ``transaction``;
- ``tradeAmt`` may be minor units (``24800``), or ``tradeAmtHkd`` HKD text (``248.00``);
- goods as a JSON cell ``goods`` (a list of ``goodsInfo`` objects, prices as minor units or
  objects), or as repeated columns ``goods1_code``, ``goods1_price`` (minor units) or
  ``goods1_price_hkd``, ``goods1_name``, ``goods1_id`` ... up to ``goods10_*``;
- an empty cell means absent.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from asap_sync import wire
from asap_sync.client._builder import request_from_mapping
from asap_sync.client._errors import InvalidSyncError
from asap_sync.client._money import AmountError, parse_hkd, parse_minor, to_minor_units

FileFormat = Literal["jsonl", "csv"]
MAX_GOODS_COLUMNS = 10
_GOODS_PARTS = {"code": "goodsCode", "name": "goodsName", "id": "goodsId"}


@dataclass(frozen=True, kw_only=True, slots=True)
class Row:
    """One input row: its line number and either a checked request or why it is bad."""

    line: int
    request: wire.SyncRequest | None = None
    error: str | None = None
    request_id: str | None = None
    out_trans_id: str | None = None


def detect_format(path: Path) -> FileFormat:
    """``csv`` for ``*.csv``, ``jsonl`` otherwise."""
    return "csv" if path.suffix.lower() == ".csv" else "jsonl"


class RowFile(Iterator[Row]):
    """The rows of one file, read lazily; also tells the bulk sender where they come from.

    Iterating checks each row in the calling process. :func:`bulk_send` instead hands the raw
    records (:meth:`records`) to worker processes, which check and sign them in parallel.
    """

    def __init__(self, path: Path, file_format: FileFormat | None = None) -> None:
        self.path = path
        self.file_format: FileFormat = file_format or detect_format(path)
        self._rows: Iterator[Row] | None = None

    def records(self) -> Iterator[RawRecord]:
        """(line, raw record) pairs, unchecked: a JSONL text line or a CSV record."""
        if self.file_format == "csv":
            return _csv_records(self.path)
        return _jsonl_records(self.path)

    def __next__(self) -> Row:
        if self._rows is None:
            self._rows = (row_from_record(line, raw) for line, raw in self.records())
        return next(self._rows)


RawRecord = tuple[int, str | dict[str, Any] | None]
"""A line number and a JSONL line (``str``), a CSV record (``dict``) or ``None`` for a CSV
record with more cells than the header has columns."""


def read_rows(path: Path, file_format: FileFormat | None = None) -> RowFile:
    """Stream the rows of a file; bad rows are yielded with their error, never raised."""
    return RowFile(path, file_format)


def count_rows(path: Path, file_format: FileFormat | None = None) -> int:
    """How many rows :func:`read_rows` will yield, read without holding the file."""
    with path.open(encoding="utf-8", newline="") as handle:
        if (file_format or detect_format(path)) == "csv":
            return sum(1 for _ in csv.DictReader(handle))
        return sum(1 for text in handle if text.strip())


def _jsonl_records(path: Path) -> Iterator[RawRecord]:
    with path.open(encoding="utf-8") as handle:
        for line, text in enumerate(handle, start=1):
            if text.strip():
                yield line, text


def _csv_records(path: Path) -> Iterator[RawRecord]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        for record in reader:
            yield reader.line_num, None if None in record else dict(record)


def row_from_record(line: int, raw: str | dict[str, Any] | None) -> Row:
    """The row of one raw record of :meth:`RowFile.records`."""
    if raw is None:
        return Row(line=line, error="more cells than header columns")
    if isinstance(raw, dict):
        return row_from_mapping(line, raw)
    try:
        data = json.loads(raw, parse_float=Decimal)
    except ValueError as exc:
        return Row(line=line, error=f"not valid JSON: {exc}")
    if not isinstance(data, dict):
        return Row(line=line, error="a line must hold a JSON object")
    return row_from_mapping(line, data)


def row_from_mapping(line: int, data: dict[str, Any]) -> Row:
    """Normalise one record and check it with the platform's rules."""
    cleaned = {k.strip(): v for k, v in data.items() if v not in ("", None)}
    out_trans_id = _text(cleaned.get("outTransId"))
    request_id = _text(cleaned.get("requestId")) or out_trans_id
    try:
        body = to_wire_mapping(cleaned)
        request = request_from_mapping(body)
    except (InvalidSyncError, AmountError, ValueError) as exc:
        context = exc.context if isinstance(exc, InvalidSyncError) else str(exc)
        return Row(line=line, error=context, request_id=request_id, out_trans_id=out_trans_id)
    return Row(
        line=line,
        request=request,
        request_id=request.request_id,
        out_trans_id=request.out_trans_id,
    )


def to_wire_mapping(data: dict[str, Any]) -> dict[str, Any]:
    """Apply the defaults and conveniences of the module docstring; the rest is kept as is."""
    body = {k: v for k, v in data.items() if k not in ("goods", "tradeAmtHkd")}
    body = {k: v for k, v in body.items() if not k.startswith("goods") or k == "goodsInfoList"}
    body.setdefault("requestId", data.get("outTransId"))
    body.setdefault("transType", "transaction")
    if "tradeAmtHkd" in data:
        body["tradeAmt"] = _hkd_price(data["tradeAmtHkd"], "tradeAmtHkd")
    elif "tradeAmt" in data:
        body["tradeAmt"] = _price(data["tradeAmt"], "tradeAmt")
    goods = _goods(data)
    if goods is not None:
        body["extendInfo"] = {"goodsInfoList": goods}
    return body


def _goods(data: dict[str, Any]) -> list[dict[str, Any]] | None:
    if "goods" in data:
        cell = data["goods"]
        items = json.loads(cell, parse_float=Decimal) if isinstance(cell, str) else cell
        if not isinstance(items, list):
            raise ValueError("goods: must be a JSON list of goods objects")
        return [_goods_item(item, i) for i, item in enumerate(items)]
    columns = [_goods_columns(data, n) for n in range(1, MAX_GOODS_COLUMNS + 1)]
    found = [item for item in columns if item]
    return found or None


def _goods_item(item: object, index: int) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise ValueError(f"goods[{index}]: must be an object")
    out = {k: v for k, v in item.items() if k not in ("goodsPrice", "goodsPriceHkd")}
    where = f"goods[{index}]"
    if "goodsPriceHkd" in item:
        out["goodsPrice"] = _hkd_price(item["goodsPriceHkd"], f"{where}.goodsPriceHkd")
    elif "goodsPrice" in item:
        out["goodsPrice"] = _price(item["goodsPrice"], f"{where}.goodsPrice")
    return out


def _goods_columns(data: dict[str, Any], n: int) -> dict[str, Any]:
    item = {
        wire_name: data[f"goods{n}_{part}"]
        for part, wire_name in _GOODS_PARTS.items()
        if f"goods{n}_{part}" in data
    }
    if f"goods{n}_price_hkd" in data:
        item["goodsPrice"] = _hkd_price(data[f"goods{n}_price_hkd"], f"goods{n}_price_hkd")
    elif f"goods{n}_price" in data:
        item["goodsPrice"] = _price(data[f"goods{n}_price"], f"goods{n}_price")
    return item


def _price(value: object, field: str) -> object:
    """Minor units as digits or an int become a price object; objects pass through."""
    if isinstance(value, str) and value.strip().isdigit():
        return {"currency": "HKD", "value": str(parse_minor(value, field=field))}
    if isinstance(value, int) and not isinstance(value, bool):
        return {"currency": "HKD", "value": str(to_minor_units(value, field=field))}
    if isinstance(value, Decimal):
        raise AmountError(f"{field}: minor units must be a whole number; use an HKD column")
    return value


def _hkd_price(value: object, field: str) -> dict[str, str]:
    if isinstance(value, str):
        minor = parse_hkd(value, field=field)
    elif isinstance(value, int) and not isinstance(value, bool):
        minor = to_minor_units(Decimal(value), field=field)
    else:
        minor = to_minor_units(value, field=field)  # a JSON number, read as Decimal
    return {"currency": "HKD", "value": str(minor)}


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
