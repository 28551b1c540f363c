"""Planned new transactions, written and committed in one round trip, on PostgreSQL.

The ordinary path of a sync costs seven round trips inside its batch (savepoint, raw request,
binding, existence check, transaction, lines, release), plus the batch's own. For the common
case, a new pay under a new requestId (:class:`asap_sync.service.ports.PlannedCreate`), one
statement does it all:

- ``fresh``: the directory is still at the version the pay was planned with, and neither the
  binding nor a transaction with the same (merchant, outTransId) is visible; otherwise the
  statement writes nothing and the sync takes the ordinary path afterwards;
- the raw request, the binding, the transaction and its lines, each inserted from the row
  before it.

The statements of a batch and its ``COMMIT`` go to the server in one pipeline. There is no
``ON CONFLICT`` and no savepoint: a concurrent twin that took the binding or the transaction
after ``fresh`` looked makes its insert fail, which aborts the pipeline and rolls everything
back; the caller then runs the whole batch the ordinary way. So a planned statement either
writes everything of its sync or nothing, and a batch commits only whole statements.

PostgreSQL only: SQLite has no data-modifying ``WITH``, and its single writer gains nothing from
fewer round trips.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection

from asap_sync.domain.model import CommissionStatus
from asap_sync.service.ports import PlannedCreate
from asap_sync.storage.syncs import dump_content, dump_headers
from asap_sync.storage.tables import (
    commission_lines,
    directory_version,
    raw_requests,
    request_bindings,
    transactions,
)


def _typed(columns: dict[str, str]) -> tuple[str, str]:
    """The column list, and the matching list of typed parameters (or SQL in parentheses).

    A ``binding_`` prefix names the binding's own parameter for a column.
    """
    names = ", ".join(name.removeprefix("binding_") for name in columns)
    values = ", ".join(
        value if value.startswith("(") else f"CAST(%({name})s AS {value})"
        for name, value in columns.items()
    )
    return names, values


_RAW_NAMES, _RAW_VALUES = _typed(
    {
        "client_id": "text",
        "key_version": "integer",
        "method": "text",
        "path": "text",
        "request_time": "text",
        "signature": "text",
        "headers": "text",
        "body": "bytea",
        "received_at": "timestamptz",
    }
)
_BIND_NAMES, _BIND_VALUES = _typed(
    {
        "client_id": "text",
        "request_id": "text",
        "merchant_id": "text",
        "out_trans_id": "text",
        "binding_content": "text",
        "raw_request_id": "(raw.raw_request_id)",
        "created_at": "timestamptz",
    }
)
_TRANSACTION_NAMES, _TRANSACTION_VALUES = _typed(
    {
        "merchant_id": "text",
        "out_trans_id": "text",
        "client_id": "text",
        "direction": "text",
        "sub_merchant_id": "text",
        "store_id": "text",
        "trans_date": "timestamptz",
        "amount_minor": "bigint",
        "contract_id": "text",
        "status": "text",
        "period": "text",
        "content": "text",
        "raw_request_id": "(bound.raw_request_id)",
        "revision": "(1)",
        "accepted_at": "timestamptz",
        "updated_at": "timestamptz",
    }
)
# The lines travel as one JSON array of objects, read back as rows by json_to_recordset.
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
_LINE_NAMES = ", ".join(_LINE_FIELDS)
_LINE_RECORD = ", ".join(f"{name} {kind}" for name, kind in _LINE_FIELDS.items())

CREATE_IF_NEW = f"""
WITH fresh AS (
    SELECT 1 AS fresh
    WHERE (SELECT version FROM {directory_version.name} WHERE id = 1)
          = CAST(%(directory_version)s AS bigint)
      AND NOT EXISTS (
        SELECT 1 FROM {request_bindings.name}
        WHERE client_id = CAST(%(client_id)s AS text)
          AND request_id = CAST(%(request_id)s AS text)
    ) AND NOT EXISTS (
        SELECT 1 FROM {transactions.name}
        WHERE merchant_id = CAST(%(merchant_id)s AS text)
          AND out_trans_id = CAST(%(out_trans_id)s AS text)
    )
), raw AS (
    INSERT INTO {raw_requests.name} ({_RAW_NAMES})
    SELECT {_RAW_VALUES} FROM fresh
    RETURNING raw_request_id
), bound AS (
    INSERT INTO {request_bindings.name} ({_BIND_NAMES})
    SELECT {_BIND_VALUES} FROM raw
    RETURNING raw_request_id
), created AS (
    INSERT INTO {transactions.name} ({_TRANSACTION_NAMES})
    SELECT {_TRANSACTION_VALUES} FROM bound
    RETURNING transaction_id
), lines AS (
    INSERT INTO {commission_lines.name} (transaction_id, {_LINE_NAMES}, created_at)
    SELECT created.transaction_id, {_LINE_NAMES}, CAST(%(created_at)s AS timestamptz)
    FROM created
    CROSS JOIN json_to_recordset(CAST(%(lines)s AS json)) AS line({_LINE_RECORD})
)
SELECT count(*) FROM created
"""


def commit_planned(conn: Connection, planned: Sequence[tuple[PlannedCreate, int]]) -> list[bool]:
    """Write each planned transaction (with the directory version it was planned at) whose
    preconditions hold, and commit, in one pipeline; which ones were written.

    ``conn`` must not be in a transaction. Raises, with nothing written, if any statement
    failed; the connection is then rolled back.
    """
    if not planned:
        return []
    driver: Any = conn.connection.dbapi_connection  # psycopg: pipeline() is its own
    cursor = driver.cursor()
    try:
        with driver.pipeline():
            cursor.executemany(
                CREATE_IF_NEW,
                [_parameters(plan, version) for plan, version in planned],
                returning=True,
            )
            driver.commit()
        written = []
        while True:
            written.append(cursor.fetchone()[0] == 1)
            if not cursor.nextset():
                break
        return written
    except BaseException:
        driver.rollback()
        raise
    finally:
        cursor.close()


def _parameters(planned: PlannedCreate, version: int) -> dict[str, Any]:
    request, binding, new = planned.request, planned.binding, planned.transaction
    lines, content = planned.lines, dump_content(new.content)
    return {
        "directory_version": version,
        "client_id": request.client_id,
        "key_version": request.key_version,
        "method": request.method,
        "path": request.path,
        "request_time": request.request_time,
        "signature": request.signature,
        "headers": dump_headers(request.headers),
        "body": request.body,
        "received_at": request.received_at,
        "request_id": binding.request_id,
        "merchant_id": new.merchant_id,
        "out_trans_id": new.out_trans_id,
        "content": content,
        "binding_content": (
            content if binding.content is new.content else dump_content(binding.content)
        ),
        "created_at": new.accepted_at,
        "direction": new.direction,
        "sub_merchant_id": new.sub_merchant_id,
        "store_id": new.store_id,
        "trans_date": new.trans_date,
        "amount_minor": new.amount_minor,
        "contract_id": new.contract_id,
        "status": CommissionStatus.PENDING.value,
        "period": new.period,
        "accepted_at": new.accepted_at,
        "updated_at": new.accepted_at,
        "lines": json.dumps(
            [{name: getattr(line, name) for name in _LINE_FIELDS} for line in lines]
        ),
    }
