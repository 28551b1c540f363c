"""The ledger on SQLite: a batch's plan in one ``BEGIN IMMEDIATE`` transaction.

SQLite has one writer at a time (the process's and the database's write lock, see
:func:`asap_sync.storage.engine.write_lock`), so the preconditions are checked by reading under
that lock, and nothing can change them before the commit. The ids are assigned here, after the
largest ones in use (as SQLite itself would), so that each table takes its rows in one
``executemany``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from asap_sync.domain.model import CommissionStatus
from asap_sync.service.ports import SyncWrites, WritePlan
from asap_sync.storage.ledger_read import key_table, pairs_json
from asap_sync.storage.ledger_rows import compact_json, dump_content, dump_headers

_INSERT_RAW = (
    "INSERT INTO raw_requests (raw_request_id, client_id, key_version, method, path, "
    "request_time, signature, headers, body, received_at) VALUES (?,?,?,?,?,?,?,?,?,?)"
)
_INSERT_BINDING = (
    "INSERT INTO request_bindings (client_id, request_id, merchant_id, out_trans_id, content, "
    "raw_request_id, created_at) VALUES (?,?,?,?,?,?,?)"
)
_INSERT_TRANSACTION = (
    "INSERT INTO transactions (transaction_id, merchant_id, out_trans_id, client_id, direction, "
    "origin_id, sub_merchant_id, store_id, trans_date, amount_minor, contract_id, status, "
    "period, content, raw_request_id, revision, accepted_at, updated_at) "
    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,1,?,?)"
)
_BUMP = "UPDATE transactions SET revision = revision + 1 WHERE transaction_id = ?"
_UPDATE = (
    "UPDATE transactions SET revision = revision + 1, content = ?, amount_minor = ?, "
    "raw_request_id = ?, updated_at = ? WHERE transaction_id = ?"
)
_SUPERSEDE = (
    "UPDATE commission_lines SET superseded_at = ? "
    "WHERE transaction_id = ? AND superseded_at IS NULL"
)
_INSERT_LINE = (
    "INSERT INTO commission_lines (line_id, transaction_id, line_no, contract_id, rule_kind, "
    "rule_value, base_minor, commission_e4, goods_index, goods_code, reverses_line_id, "
    "created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
)


def timestamp(value: datetime) -> str:
    """How SQLite stores an aware timestamp: naive UTC text (SQLAlchemy's format,
    ``%Y-%m-%d %H:%M:%S.%f``, which ``isoformat`` writes faster)."""
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


# The directory version and the largest id of each table, in one statement.
_STATE = (
    "SELECT (SELECT version FROM directory_version WHERE id = 1), "
    "(SELECT coalesce(max(raw_request_id), 0) FROM raw_requests), "
    "(SELECT coalesce(max(transaction_id), 0) FROM transactions), "
    "(SELECT coalesce(max(line_id), 0) FROM commission_lines)"
)
_TAKEN_BINDINGS = (
    f"SELECT b.client_id, b.request_id FROM {key_table('sqlite', 'keys')}"
    " JOIN request_bindings b ON b.client_id = k.a AND b.request_id = k.b"
)
_TAKEN_TRANSACTIONS = (
    f"SELECT t.merchant_id, t.out_trans_id FROM {key_table('sqlite', 'keys')}"
    " JOIN transactions t ON t.merchant_id = k.a AND t.out_trans_id = k.b"
)
_GUARDED = (
    "SELECT transaction_id, revision, status FROM transactions"
    " WHERE transaction_id IN (SELECT value FROM json_each(:ids))"
)


def writable(cursor: Any, plan: WritePlan) -> tuple[list[SyncWrites], _Ids]:
    """The syncs of the plan whose preconditions hold (under the write lock), and the ids
    after the largest in use: a few statements for the whole batch, whatever its size."""
    version, *largest = cursor.execute(_STATE).fetchone()
    ids = _Ids(*largest)
    if version != plan.directory_version:
        return [], ids
    bindings = {(s.binding.client_id, s.binding.request_id) for s in plan.syncs}
    creates = {(c.merchant_id, c.out_trans_id) for s in plan.syncs if (c := s.create)}
    guards = [s.guard.transaction_id for s in plan.syncs if s.guard is not None]
    taken = _found(cursor, _TAKEN_BINDINGS, {"keys": pairs_json(bindings)})
    existing = (
        _found(cursor, _TAKEN_TRANSACTIONS, {"keys": pairs_json(creates)}) if creates else set()
    )
    current = (
        {
            row[0]: (row[1], row[2])
            for row in cursor.execute(_GUARDED, {"ids": compact_json(guards)})
        }
        if guards
        else {}
    )
    ok: list[SyncWrites] = []
    for sync in plan.syncs:
        binding, create, guard = sync.binding, sync.create, sync.guard
        if (binding.client_id, binding.request_id) in taken:
            continue
        if create is not None and (create.merchant_id, create.out_trans_id) in existing:
            continue
        if guard is not None and current.get(guard.transaction_id) != (
            guard.revision,
            guard.status,
        ):
            continue
        ok.append(sync)
    return ok, ids


def _found(cursor: Any, sql: str, parameters: dict[str, str]) -> set[tuple[str, str]]:
    return {(row[0], row[1]) for row in cursor.execute(sql, parameters)}


class _Ids:
    """The next free id of each table, taken under the write lock."""

    def __init__(self, raw_requests: int, transactions: int, commission_lines: int) -> None:
        self._next = {
            "raw_requests": int(raw_requests) + 1,
            "transactions": int(transactions) + 1,
            "commission_lines": int(commission_lines) + 1,
        }

    def take(self, table: str) -> int:
        found = self._next[table]
        self._next[table] = found + 1
        return found


def write(cursor: Any, syncs: Sequence[SyncWrites], ids: _Ids) -> None:
    """Insert and update every row of ``syncs``, a few statements for the whole batch."""
    rows: dict[str, list[tuple[Any, ...]]] = {
        name: [] for name in ("raw", "binding", "transaction", "bump", "update", "old", "line")
    }
    for sync in syncs:
        _rows_of(sync, ids, rows)
    for name, sql in (
        ("raw", _INSERT_RAW),
        ("binding", _INSERT_BINDING),
        ("transaction", _INSERT_TRANSACTION),
        ("bump", _BUMP),
        ("update", _UPDATE),
        ("old", _SUPERSEDE),
        ("line", _INSERT_LINE),
    ):
        if rows[name]:
            cursor.executemany(sql, rows[name])


def _rows_of(sync: SyncWrites, ids: _Ids, rows: dict[str, list[tuple[Any, ...]]]) -> None:
    request, binding, at = sync.request, sync.binding, timestamp(sync.at)
    raw_id = ids.take("raw_requests")
    rows["raw"].append(
        (
            raw_id,
            request.client_id,
            request.key_version,
            request.method,
            request.path,
            request.request_time,
            request.signature,
            dump_headers(request.headers),
            request.body,
            timestamp(request.received_at),
        )
    )
    content = dump_content(binding.content)
    rows["binding"].append(
        (
            binding.client_id,
            binding.request_id,
            binding.merchant_id,
            binding.out_trans_id,
            content,
            raw_id,
            at,
        )
    )
    created: int | None = None
    if sync.create is not None:
        new, created = sync.create, ids.take("transactions")
        rows["transaction"].append(
            (
                created,
                new.merchant_id,
                new.out_trans_id,
                new.client_id,
                new.direction,
                new.origin_id,
                new.sub_merchant_id,
                new.store_id,
                timestamp(new.trans_date),
                new.amount_minor,
                new.contract_id,
                CommissionStatus.PENDING.value,
                new.period,
                content if new.content is binding.content else dump_content(new.content),
                raw_id,
                at,
                at,
            )
        )
    guard = sync.guard
    if guard is not None and guard.content is None:
        rows["bump"].append((guard.transaction_id,))
    elif guard is not None and guard.content is not None:
        rows["update"].append(
            (dump_content(guard.content), guard.amount_minor, raw_id, at, guard.transaction_id)
        )
    rows["old"].extend((at, transaction_id) for transaction_id in sync.supersede)
    _line_rows(sync, created, ids, at, rows["line"])


def _line_rows(
    sync: SyncWrites, created: int | None, ids: _Ids, at: str, out: list[tuple[Any, ...]]
) -> None:
    new_lines: dict[int, int] = {}  # line_no → id of the lines on the guarded transaction
    guarded = None if sync.guard is None else sync.guard.transaction_id
    for write in sync.lines:
        line, line_id = write.draft, ids.take("commission_lines")
        owner = created if write.transaction_id is None else write.transaction_id
        if owner == guarded and write.reverses_new_line is None:
            new_lines[line.line_no] = line_id
        reverses = line.reverses_line_id
        if write.reverses_new_line is not None:
            reverses = new_lines[write.reverses_new_line]
        out.append(
            (
                line_id,
                owner,
                line.line_no,
                line.contract_id,
                line.rule_kind,
                line.rule_value,
                line.base_minor,
                line.commission_e4,
                line.goods_index,
                line.goods_code,
                reverses,
                at,
            )
        )
