"""Planned new transactions: a batch of them written and committed in one round trip, on
PostgreSQL.

The ordinary path of a sync costs seven round trips inside its batch (savepoint, raw request,
binding, existence check, transaction, lines, release), plus the batch's own. For the common
case, a new pay under a new requestId (:class:`asap_sync.service.ports.PlannedCreate`), each
sync becomes one JSON object (:func:`planned_row`, built in the request's own thread), and one
statement writes every planned sync of a batch:

- ``fresh``: the syncs whose directory version still stands, and for which neither the binding
  nor a transaction with the same (merchant, outTransId) is visible; each gets its raw request
  and transaction ids from their sequences. The others write nothing and take the ordinary
  path afterwards;
- the raw requests, the bindings, the transactions and their lines, inserted from ``fresh``.

The statement and the ``COMMIT`` go to the server in one pipeline. There is no
``ON CONFLICT`` and no savepoint: a concurrent twin that took a binding or a transaction after
``fresh`` looked makes the insert fail, which rolls the whole statement back; the caller then
runs the batch the ordinary way. So every planned sync of a batch is written entirely or not
at all. The caller sends no two syncs with the same binding or transaction key in one batch.

PostgreSQL only: SQLite has no data-modifying ``WITH``, and its single writer gains nothing from
fewer round trips.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from asap_sync.domain.model import CommissionStatus
from asap_sync.service.ports import PlannedCreate
from asap_sync.storage.syncs import columns_of, dump_content, raw_request_row
from asap_sync.storage.tables import (
    commission_lines,
    directory_version,
    raw_requests,
    request_bindings,
    transactions,
)

# Every field of a planned sync, as json_to_recordset reads it (``body`` travels as base64).
_FIELDS = {
    "directory_version": "bigint",
    "client_id": "text",
    "key_version": "integer",
    "method": "text",
    "path": "text",
    "request_time": "text",
    "signature": "text",
    "headers": "text",
    "body": "text",
    "received_at": "timestamptz",
    "request_id": "text",
    "merchant_id": "text",
    "out_trans_id": "text",
    "binding_content": "text",
    "created_at": "timestamptz",
    "direction": "text",
    "sub_merchant_id": "text",
    "store_id": "text",
    "trans_date": "timestamptz",
    "amount_minor": "bigint",
    "contract_id": "text",
    "period": "text",
    "content": "text",
    "accepted_at": "timestamptz",
    "lines": "json",
}
_LINE_FIELDS = {
    "line_no": "integer",
    "contract_id": "text",
    "rule_kind": "text",
    "rule_value": "bigint",
    "base_minor": "bigint",
    "commission_e4": "bigint",
    "goods_index": "integer",
    "goods_code": "text",
}
# Each table's columns, and what they are taken from (a field of ``fresh`` by default).
_RAW = {
    **dict.fromkeys(columns_of(raw_requests)),
    "body": "decode(fresh.body, 'base64')",
}
_BINDING = {
    "client_id": None,
    "request_id": None,
    "merchant_id": None,
    "out_trans_id": None,
    "content": "fresh.binding_content",
    "raw_request_id": None,
    "created_at": None,
}
_TRANSACTION = {
    "transaction_id": None,
    "merchant_id": None,
    "out_trans_id": None,
    "client_id": None,
    "direction": None,
    "sub_merchant_id": None,
    "store_id": None,
    "trans_date": None,
    "amount_minor": None,
    "contract_id": None,
    "status": f"'{CommissionStatus.PENDING.value}'",
    "period": None,
    "content": None,
    "raw_request_id": None,
    "revision": "1",
    "accepted_at": None,
    "updated_at": "fresh.accepted_at",
}
_LINE = {
    "transaction_id": "fresh.transaction_id",
    **{name: f"line.{name}" for name in _LINE_FIELDS},
    "created_at": "fresh.created_at",
}


def _insert(table: str, columns: Mapping[str, str | None], source: str) -> str:
    names = ", ".join(columns)
    values = ", ".join(value or f"fresh.{name}" for name, value in columns.items())
    return f"INSERT INTO {table} ({names}) SELECT {values} FROM {source}"


def _record(fields: dict[str, str]) -> str:
    return ", ".join(f"{name} {kind}" for name, kind in fields.items())


def _next_id(table: str, column: str) -> str:
    # The sequence PostgreSQL made for the BIGSERIAL column (migration 0001), resolved once
    # when the statement is prepared rather than looked up for every row.
    return f"nextval('{table}_{column}_seq'::regclass)"


CREATE_IF_NEW = f"""
WITH input AS (
    SELECT * FROM json_to_recordset(CAST(%(syncs)s AS json)) AS input({_record(_FIELDS)})
), fresh AS (
    SELECT input.*,
           {_next_id(raw_requests.name, "raw_request_id")} AS raw_request_id,
           {_next_id(transactions.name, "transaction_id")} AS transaction_id
    FROM input
    WHERE input.directory_version = (SELECT version FROM {directory_version.name} WHERE id = 1)
      -- Scalar subqueries rather than NOT EXISTS: each stays one probe of a unique index per
      -- row, where an anti-join planned while the tables were small could scan them.
      AND (
        SELECT 1 FROM {request_bindings.name} AS b
        WHERE b.client_id = input.client_id AND b.request_id = input.request_id
    ) IS NULL AND (
        SELECT 1 FROM {transactions.name} AS t
        WHERE t.merchant_id = input.merchant_id AND t.out_trans_id = input.out_trans_id
    ) IS NULL
), raw AS (
    {_insert(raw_requests.name, _RAW, "fresh")}
), bound AS (
    {_insert(request_bindings.name, _BINDING, "fresh")}
), created AS (
    {_insert(transactions.name, _TRANSACTION, "fresh")}
), lines AS (
    {_insert(commission_lines.name, _LINE, "fresh")}
    CROSS JOIN json_to_recordset(fresh.lines) AS line({_record(_LINE_FIELDS)})
)
SELECT client_id, request_id FROM fresh
"""


@dataclass(frozen=True, slots=True)
class PlannedRow:
    """A planned sync as the statement reads it, with the keys that must be new."""

    binding_key: tuple[str, str]  # (client_id, request_id)
    transaction_key: tuple[str, str]  # (merchant_id, out_trans_id)
    json: str


def planned_row(planned: PlannedCreate, version: int) -> PlannedRow:
    """A planned transaction and the directory version its plan was made at, as one JSON
    object of the statement's input."""
    request, binding, new = planned.request, planned.binding, planned.transaction
    content = dump_content(new.content)
    row = {
        "directory_version": version,
        **raw_request_row(request),
        "body": base64.b64encode(request.body).decode("ascii"),
        "received_at": request.received_at.isoformat(),
        "request_id": binding.request_id,
        "merchant_id": new.merchant_id,
        "out_trans_id": new.out_trans_id,
        # The binding and the transaction hold the same normalised content.
        "binding_content": (
            content if binding.content is new.content else dump_content(binding.content)
        ),
        "created_at": new.accepted_at.isoformat(),
        "direction": new.direction,
        "sub_merchant_id": new.sub_merchant_id,
        "store_id": new.store_id,
        "trans_date": new.trans_date.isoformat(),
        "amount_minor": new.amount_minor,
        "contract_id": new.contract_id,
        "period": new.period,
        "content": content,
        "accepted_at": new.accepted_at.isoformat(),
        "lines": [{name: getattr(line, name) for name in _LINE_FIELDS} for line in planned.lines],
    }
    return PlannedRow(
        binding_key=(binding.client_id, binding.request_id),
        transaction_key=(new.merchant_id, new.out_trans_id),
        json=json.dumps(row, ensure_ascii=False, separators=(",", ":")),
    )


def commit_planned(driver: Any, rows: Sequence[PlannedRow]) -> list[bool]:
    """Write every planned row whose preconditions hold, and commit, in one pipeline; which
    ones were written. No two rows may share a key.

    ``driver``: a psycopg connection (``pipeline()`` is its own), not in a transaction.
    Raises, with nothing written, if the statement failed; the connection is then rolled back.
    """
    if not rows:
        return []
    syncs = "[" + ",".join(row.json for row in rows) + "]"
    cursor = driver.cursor()
    try:
        with driver.pipeline():
            cursor.execute(CREATE_IF_NEW, {"syncs": syncs})
            driver.commit()
        written = {(client_id, request_id) for client_id, request_id in cursor.fetchall()}
    except BaseException:
        driver.rollback()
        raise
    finally:
        cursor.close()
    return [row.binding_key in written for row in rows]
