"""The ledger on PostgreSQL: a batch's plan in one statement, run on its own (autocommit), so
that it is its own transaction: one round trip for every case (new pays, refunds, goods
updates, re-sends).

Each sync of the plan is one JSON object of the statement's input. The statement:

- ``ok``: the syncs whose preconditions hold in its snapshot: the directory still at the plan's
  version, the binding absent, the created transaction absent; each gets its raw request and
  transaction ids from their sequences;
- ``guarded``: bumps (and for a goods update, updates) each guarded transaction still at the
  revision and status the sync was decided on; a row a concurrent writer changed meanwhile is
  re-checked after that writer commits, and then no longer matches;
- ``fresh``: the ``ok`` syncs whose guard (if any) held; everything else is written from it:
  raw requests, bindings, transactions, superseded lines, new lines (a recomputed reversal finds
  the new line it reverses by its line number).

There is no ``ON CONFLICT``: a concurrent twin that took a binding or a transaction after the
snapshot makes an insert fail once that twin commits, which rolls the whole statement back;
every sync of the batch is then decided again, and finds the twin's rows.

The statement takes PostgreSQL's own placeholders (``$1`` the plan, ``$2`` the directory
version) and runs through psycopg's ``RawCursor``: the driver does not parse it for named
placeholders on every batch (it would, being longer than the statements it caches).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

from asap_sync.service.ports import SyncWrites
from asap_sync.storage.ledger_rows import compact_json, dump_content, dump_headers

_INPUT = (
    "n integer, client_id text, key_version integer, method text, path text, "
    "request_time text, signature text, headers text, body text, received_at timestamptz, "
    "request_id text, merchant_id text, out_trans_id text, binding_content text, "
    "at timestamptz, creates boolean, direction text, origin_id bigint, sub_merchant_id text, "
    "store_id text, trans_date timestamptz, amount_minor bigint, contract_id text, period text, "
    "content text, guard_id bigint, guard_revision integer, guard_status text, "
    "update_content text, update_amount bigint, supersede json, lines json"
)
_LINE = (
    "on_transaction bigint, line_no integer, contract_id text, rule_kind text, "
    "rule_value bigint, base_minor bigint, commission_e4 bigint, goods_index integer, "
    "goods_code text, reverses_line_id bigint, reverses_new_line integer"
)
_LINE_VALUES = (
    "line_no, contract_id, rule_kind, rule_value, base_minor, commission_e4, goods_index, "
    "goods_code"
)
_LINE_FIELDS = tuple(name.strip() for name in _LINE_VALUES.split(","))


def _next(table: str, column: str) -> str:
    return f"nextval('{table}_{column}_seq'::regclass)"


APPLY = f"""
WITH input AS (
    SELECT * FROM json_to_recordset(CAST($1 AS json)) AS input({_INPUT})
), ok AS (
    SELECT input.*, {_next("raw_requests", "raw_request_id")} AS raw_request_id,
           CASE WHEN input.creates THEN {_next("transactions", "transaction_id")} END
               AS transaction_id
    FROM input
    WHERE (SELECT version FROM directory_version WHERE id = 1) IS NOT DISTINCT FROM $2
      -- Scalar subqueries: each stays one probe of a unique index per row.
      AND (
        SELECT 1 FROM request_bindings AS b
        WHERE b.client_id = input.client_id AND b.request_id = input.request_id
      ) IS NULL
      AND (NOT input.creates OR (
        SELECT 1 FROM transactions AS t
        WHERE t.merchant_id = input.merchant_id AND t.out_trans_id = input.out_trans_id
      ) IS NULL)
), guarded AS (
    UPDATE transactions AS t
    SET revision = t.revision + 1,
        content = coalesce(ok.update_content, t.content),
        amount_minor = coalesce(ok.update_amount, t.amount_minor),
        raw_request_id = CASE WHEN ok.update_content IS NULL THEN t.raw_request_id
                              ELSE ok.raw_request_id END,
        updated_at = CASE WHEN ok.update_content IS NULL THEN t.updated_at ELSE ok.at END
    FROM ok
    WHERE t.transaction_id = ok.guard_id
      -- Said twice so that the rows are found by the primary key, never by a scan.
      AND t.transaction_id = ANY (ARRAY(SELECT guard_id FROM ok WHERE guard_id IS NOT NULL))
      AND t.revision = ok.guard_revision AND t.status = ok.guard_status
    RETURNING ok.n
), fresh AS (
    SELECT ok.* FROM ok WHERE ok.guard_id IS NULL OR ok.n IN (SELECT n FROM guarded)
), raw AS (
    INSERT INTO raw_requests (raw_request_id, client_id, key_version, method, path,
                              request_time, signature, headers, body, received_at)
    SELECT raw_request_id, client_id, key_version, method, path, request_time, signature,
           headers, decode(body, 'base64'), received_at
    FROM fresh
), bound AS (
    INSERT INTO request_bindings (client_id, request_id, merchant_id, out_trans_id, content,
                                  raw_request_id, created_at)
    SELECT client_id, request_id, merchant_id, out_trans_id, binding_content, raw_request_id, at
    FROM fresh
), created AS (
    INSERT INTO transactions (transaction_id, merchant_id, out_trans_id, client_id, direction,
                              origin_id, sub_merchant_id, store_id, trans_date, amount_minor,
                              contract_id, status, period, content, raw_request_id, revision,
                              accepted_at, updated_at)
    SELECT transaction_id, merchant_id, out_trans_id, client_id, direction, origin_id,
           sub_merchant_id, store_id, trans_date, amount_minor, contract_id, 'PENDING', period,
           content, raw_request_id, 1, at, at
    FROM fresh WHERE creates
), supersede AS (
    SELECT fresh.at, s.id::bigint AS transaction_id
    FROM fresh CROSS JOIN json_array_elements_text(fresh.supersede) AS s(id)
), superseded AS (
    UPDATE commission_lines AS l SET superseded_at = supersede.at
    FROM supersede
    WHERE l.transaction_id = supersede.transaction_id
      AND l.transaction_id = ANY (ARRAY(SELECT transaction_id FROM supersede))
      AND l.superseded_at IS NULL
), planned_lines AS (
    SELECT fresh.n, fresh.at, fresh.guard_id,
           coalesce(line.on_transaction, fresh.transaction_id) AS owner, line.*,
           {_next("commission_lines", "line_id")} AS line_id
    FROM fresh CROSS JOIN json_to_recordset(fresh.lines) AS line({_LINE})
), lines AS (
    INSERT INTO commission_lines (line_id, transaction_id, {_LINE_VALUES}, reverses_line_id,
                                  created_at)
    SELECT p.line_id, p.owner, {", ".join(f"p.{name}" for name in _LINE_FIELDS)},
           coalesce(p.reverses_line_id, target.line_id), p.at
    FROM planned_lines AS p
    LEFT JOIN planned_lines AS target
      ON p.reverses_new_line IS NOT NULL AND target.n = p.n AND target.owner = p.guard_id
     AND target.reverses_new_line IS NULL AND target.line_no = p.reverses_new_line
)
SELECT n FROM fresh
"""


def plan_json(syncs: Sequence[SyncWrites]) -> str:
    """The statement's input: one object per sync, in the order of their bindings (so that
    concurrent batches take their locks in the same order)."""
    ordered = sorted(syncs, key=lambda s: (s.binding.client_id, s.binding.request_id))
    return compact_json([_row(sync) for sync in ordered])


def _row(sync: SyncWrites) -> dict[str, Any]:
    request, binding, new, guard = sync.request, sync.binding, sync.create, sync.guard
    row: dict[str, Any] = {
        "n": sync.sync,
        "client_id": request.client_id,
        "key_version": request.key_version,
        "method": request.method,
        "path": request.path,
        "request_time": request.request_time,
        "signature": request.signature,
        "headers": dump_headers(request.headers),
        "body": base64.b64encode(request.body).decode("ascii"),
        "received_at": request.received_at.isoformat(),
        "request_id": binding.request_id,
        "merchant_id": binding.merchant_id,
        "out_trans_id": binding.out_trans_id,
        "binding_content": dump_content(binding.content),
        "at": sync.at.isoformat(),
        "creates": new is not None,
        "supersede": list(sync.supersede),
        "lines": [
            {
                "on_transaction": w.transaction_id,
                **{name: getattr(w.draft, name) for name in _LINE_FIELDS},
                "reverses_line_id": w.draft.reverses_line_id,
                "reverses_new_line": w.reverses_new_line,
            }
            for w in sync.lines
        ],
    }
    if new is not None:
        row |= {
            "direction": new.direction,
            "origin_id": new.origin_id,
            "sub_merchant_id": new.sub_merchant_id,
            "store_id": new.store_id,
            "trans_date": new.trans_date.isoformat(),
            "amount_minor": new.amount_minor,
            "contract_id": new.contract_id,
            "period": new.period,
            "content": (
                row["binding_content"]
                if new.content is binding.content
                else dump_content(new.content)
            ),
        }
    if guard is not None:
        row |= {
            "guard_id": guard.transaction_id,
            "guard_revision": guard.revision,
            "guard_status": guard.status,
            "update_content": None if guard.content is None else dump_content(guard.content),
            "update_amount": guard.amount_minor,
        }
    return row
