"""The SQL behind accepting a sync (SQLAlchemy Core, one connection, one transaction)."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Connection, Row, Table, and_, bindparam, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from asap_sync.domain.model import (
    CommissionStatus,
    Contract,
    Direction,
    LineDraft,
    Rule,
    RuleKind,
    StoredLine,
    Transaction,
)
from asap_sync.service.ports import Binding, NewTransaction, SignedRequest
from asap_sync.storage.driver import DriverStatement
from asap_sync.storage.tables import (
    client_merchants,
    commission_lines,
    contract_rules,
    contracts,
    raw_requests,
    request_bindings,
    transactions,
)


def dump_content(content: Mapping[str, Any]) -> str:
    """Compact UTF-8 JSON of normalised content, in its documented field order."""
    return json.dumps(content, ensure_ascii=False, separators=(",", ":"))


def dump_headers(headers: Mapping[str, str]) -> str:
    """The received headers as stored with the raw request."""
    return json.dumps(dict(headers), ensure_ascii=False)


def raw_request_row(request: SignedRequest) -> dict[str, Any]:
    """The ``raw_requests`` row of a signed request (without its id)."""
    return {
        "client_id": request.client_id,
        "key_version": request.key_version,
        "method": request.method,
        "path": request.path,
        "request_time": request.request_time,
        "signature": request.signature,
        "headers": dump_headers(request.headers),
        "body": request.body,
        "received_at": request.received_at,
    }


def columns_of(table: Table, *, without: tuple[str, ...] = ()) -> tuple[str, ...]:
    """A table's column names, in their order, but for the ones the database fills in."""
    return tuple(column.name for column in table.columns if column.name not in without)


def _on_conflict_do_nothing(table: Any, returning: Any) -> dict[str, Any]:
    """``INSERT … ON CONFLICT DO NOTHING RETURNING``, per dialect: it waits for an in-flight
    twin (same unique key, uncommitted) and then yields to it."""
    return {
        name: dialect.insert(table).on_conflict_do_nothing().returning(returning)
        for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
    }


# The hot path's statements are built once: building Core constructs costs more per call than
# executing their cached compiled form.
_RAW_COLUMNS = columns_of(raw_requests, without=("raw_request_id",))
_ADD_RAW = DriverStatement(
    insert(raw_requests).returning(raw_requests.c.raw_request_id), _RAW_COLUMNS
)
_BIND_COLUMNS = columns_of(request_bindings)
_BIND = DriverStatement(
    _on_conflict_do_nothing(request_bindings, request_bindings.c.request_id), _BIND_COLUMNS
)
_GET_BINDING = select(request_bindings).where(
    request_bindings.c.client_id == bindparam("client_id"),
    request_bindings.c.request_id == bindparam("request_id"),
)
# Linked or not, and the merchant's contracts with their rules, in one round trip.
_MERCHANT_CONTRACTS = (
    select(
        client_merchants.c.merchant_id.label("linked"),
        contracts,
        contract_rules.c.goods_code,
        contract_rules.c.kind,
        contract_rules.c.value,
    )
    .select_from(
        client_merchants.outerjoin(
            contracts, contracts.c.merchant_id == client_merchants.c.merchant_id
        ).outerjoin(contract_rules, contract_rules.c.contract_id == contracts.c.contract_id)
    )
    .where(
        client_merchants.c.client_id == bindparam("client_id"),
        client_merchants.c.merchant_id == bindparam("merchant_id"),
    )
    .order_by(contracts.c.valid_from, contracts.c.contract_id)
)
_LINKED_MERCHANT_HAS = (
    select(transactions.c.transaction_id)
    .join(
        client_merchants,
        and_(
            client_merchants.c.merchant_id == transactions.c.merchant_id,
            client_merchants.c.client_id == bindparam("client_id"),
        ),
    )
    .where(
        transactions.c.out_trans_id == bindparam("out_trans_id"),
        transactions.c.merchant_id != bindparam("but_not"),
        transactions.c.direction == "pay",
    )
    .limit(1)
)
# FOR UPDATE (PostgreSQL) serialises refunds of one origin and updates of one transaction;
# SQLite writers already hold the database's write lock.
_GET_TRANSACTION = (
    select(transactions)
    .where(
        transactions.c.merchant_id == bindparam("merchant_id"),
        transactions.c.out_trans_id == bindparam("out_trans_id"),
    )
    .with_for_update()
)
# Most syncs are new transactions: a bare existence check through the driver settles that;
# only an existing transaction is read (and locked) through the typed statement above.
_TRANSACTION_EXISTS = DriverStatement(
    select(transactions.c.transaction_id).where(
        transactions.c.merchant_id == bindparam("merchant_id"),
        transactions.c.out_trans_id == bindparam("out_trans_id"),
    )
)
_REFUNDS_OF = (
    select(transactions)
    .where(transactions.c.origin_id == bindparam("origin_id"))
    .order_by(transactions.c.transaction_id)
)
_ACTIVE_LINES = (
    select(commission_lines)
    .where(
        commission_lines.c.transaction_id == bindparam("transaction_id"),
        commission_lines.c.superseded_at.is_(None),
    )
    .order_by(commission_lines.c.line_no)
)
_TRANSACTION_COLUMNS = columns_of(transactions, without=("transaction_id", "statement_id"))
_INSERT_TRANSACTION = DriverStatement(
    _on_conflict_do_nothing(transactions, transactions.c.transaction_id), _TRANSACTION_COLUMNS
)
_LINE_COLUMNS = columns_of(commission_lines, without=("line_id", "superseded_at"))
_ADD_LINES = DriverStatement(insert(commission_lines), _LINE_COLUMNS)


MAX_CACHED_MERCHANTS = 10_000
_MISSING = object()


class MerchantDirectory:
    """A process's cache of each (client, merchant) link and the merchant's contracts.

    Valid at one directory version: triggers bump it on any change to links, contracts or
    their rules (migration 0004), so a cached entry is used only by a transaction that read
    that same version.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._version: int | None = None
        self._entries: dict[tuple[str, str], tuple[Contract, ...] | None] = {}

    def get(self, version: int | None, key: tuple[str, str]) -> Any:
        """The cached contracts (None: not linked), or ``_MISSING``."""
        with self._lock:
            if version is None or version != self._version:
                return _MISSING
            return self._entries.get(key, _MISSING)

    def at(self, version: int) -> CachedContracts:
        """The cache as of ``version``, without the database: a miss raises ``NotCached``."""
        return CachedContracts(self, version)

    def put(self, version: int | None, key: tuple[str, str], value: Any) -> None:
        """Remember what was read at ``version``."""
        if version is None:
            return
        with self._lock:
            if version != self._version:
                self._version = version
                self._entries.clear()
            if len(self._entries) >= MAX_CACHED_MERCHANTS:
                self._entries.clear()
            self._entries[key] = value


class NotCached(LookupError):
    """The merchant's link and contracts are not cached at that directory version."""


class CachedContracts:
    """Implements :class:`asap_sync.service.ports.MerchantContracts` from the cache alone."""

    def __init__(self, directory: MerchantDirectory, version: int) -> None:
        self._directory, self._version = directory, version

    def merchant_contracts(self, client_id: str, merchant_id: str) -> Sequence[Contract] | None:
        found = self._directory.get(self._version, (client_id, merchant_id))
        if found is _MISSING:
            raise NotCached(f"{client_id}/{merchant_id} at directory version {self._version}")
        return cast("tuple[Contract, ...] | None", found)


class SqlSyncRepository:
    """Implements :class:`asap_sync.service.ports.SyncRepository` on one connection.

    With a ``directory`` and the ``directory_version`` its transaction read, links and
    contracts come from the process's cache while that version stands.
    """

    def __init__(
        self,
        conn: Connection,
        *,
        directory: MerchantDirectory | None = None,
        directory_version: int | None = None,
    ) -> None:
        self.conn = conn
        self._directory, self._directory_version = directory, directory_version

    def add_raw_request(self, request: SignedRequest) -> int:
        row = _ADD_RAW.first(self.conn, raw_request_row(request))
        return int(row[0])

    def bind(self, binding: Binding, raw_request_id: int, now: datetime) -> bool:
        row = _BIND.first(
            self.conn,
            {
                "client_id": binding.client_id,
                "request_id": binding.request_id,
                "merchant_id": binding.merchant_id,
                "out_trans_id": binding.out_trans_id,
                "content": dump_content(binding.content),
                "raw_request_id": raw_request_id,
                "created_at": now,
            },
        )
        return row is not None

    def get_binding(self, client_id: str, request_id: str) -> Binding | None:
        row = self.conn.execute(
            _GET_BINDING, {"client_id": client_id, "request_id": request_id}
        ).first()
        if row is None:
            return None
        return Binding(
            client_id=row.client_id,
            request_id=row.request_id,
            merchant_id=row.merchant_id,
            out_trans_id=row.out_trans_id,
            content=json.loads(row.content),
        )

    def merchant_contracts(self, client_id: str, merchant_id: str) -> Sequence[Contract] | None:
        key = (client_id, merchant_id)
        if self._directory is not None:
            cached = self._directory.get(self._directory_version, key)
            if cached is not _MISSING:
                return cast("tuple[Contract, ...] | None", cached)
        found = self._read_merchant_contracts(client_id, merchant_id)
        if self._directory is not None:
            self._directory.put(self._directory_version, key, found)
        return found

    def _read_merchant_contracts(
        self, client_id: str, merchant_id: str
    ) -> tuple[Contract, ...] | None:
        rows = self.conn.execute(
            _MERCHANT_CONTRACTS, {"client_id": client_id, "merchant_id": merchant_id}
        ).all()
        if not rows:
            return None
        grouped: dict[str, list[Row[Any]]] = {}
        for row in rows:
            if row.contract_id is not None:
                grouped.setdefault(row.contract_id, []).append(row)
        return tuple(
            contract_from_rows(group[0], [r for r in group if r.goods_code is not None])
            for group in grouped.values()
        )

    def linked_merchant_has(self, client_id: str, out_trans_id: str, but_not: str) -> bool:
        row = self.conn.execute(
            _LINKED_MERCHANT_HAS,
            {"client_id": client_id, "out_trans_id": out_trans_id, "but_not": but_not},
        ).first()
        return row is not None

    def get_transaction(self, merchant_id: str, out_trans_id: str) -> Transaction | None:
        key = {"merchant_id": merchant_id, "out_trans_id": out_trans_id}
        if _TRANSACTION_EXISTS.first(self.conn, key) is None:
            return None
        row = self.conn.execute(_GET_TRANSACTION, key).first()
        return None if row is None else transaction_from_row(row)

    def refunds_of(self, origin_id: int) -> Sequence[Transaction]:
        rows = self.conn.execute(_REFUNDS_OF, {"origin_id": origin_id})
        return [transaction_from_row(r) for r in rows]

    def active_lines(self, transaction_id: int) -> Sequence[StoredLine]:
        rows = self.conn.execute(_ACTIVE_LINES, {"transaction_id": transaction_id})
        return [line_from_row(r) for r in rows]

    def reversed_by_line(self, origin_id: int) -> Mapping[int, int]:
        """What the active reversal lines have reversed so far, per origin line (positive)."""
        origin_line = commission_lines.alias("origin_line")
        rows = self.conn.execute(
            select(commission_lines.c.reverses_line_id, func.sum(commission_lines.c.commission_e4))
            .join(origin_line, origin_line.c.line_id == commission_lines.c.reverses_line_id)
            .where(
                origin_line.c.transaction_id == origin_id,
                commission_lines.c.superseded_at.is_(None),
            )
            .group_by(commission_lines.c.reverses_line_id)
        )
        return {int(line_id): -int(total) for line_id, total in rows}

    def insert_transaction(self, new: NewTransaction, raw_request_id: int) -> int | None:
        values = {
            "merchant_id": new.merchant_id,
            "out_trans_id": new.out_trans_id,
            "client_id": new.client_id,
            "direction": new.direction,
            "origin_id": new.origin_id,
            "sub_merchant_id": new.sub_merchant_id,
            "store_id": new.store_id,
            "trans_date": new.trans_date,
            "amount_minor": new.amount_minor,
            "contract_id": new.contract_id,
            "status": CommissionStatus.PENDING.value,
            "period": new.period,
            "content": dump_content(new.content),
            "raw_request_id": raw_request_id,
            "revision": 1,
            "accepted_at": new.accepted_at,
            "updated_at": new.accepted_at,
        }
        row = _INSERT_TRANSACTION.first(self.conn, values)
        return None if row is None else int(row[0])

    def update_transaction(
        self,
        transaction_id: int,
        content: Mapping[str, Any],
        amount_minor: int,
        raw_request_id: int,
        now: datetime,
    ) -> None:
        self.conn.execute(
            update(transactions)
            .where(transactions.c.transaction_id == transaction_id)
            .values(
                content=dump_content(content),
                amount_minor=amount_minor,
                raw_request_id=raw_request_id,
                revision=transactions.c.revision + 1,
                updated_at=now,
            )
        )

    def add_lines(self, transaction_id: int, lines: Sequence[LineDraft], now: datetime) -> None:
        if not lines:
            return
        _ADD_LINES.many(
            self.conn,
            [
                {
                    "transaction_id": transaction_id,
                    "line_no": line.line_no,
                    "contract_id": line.contract_id,
                    "rule_kind": line.rule_kind,
                    "rule_value": line.rule_value,
                    "base_minor": line.base_minor,
                    "commission_e4": line.commission_e4,
                    "goods_index": line.goods_index,
                    "goods_code": line.goods_code,
                    "reverses_line_id": line.reverses_line_id,
                    "created_at": now,
                }
                for line in lines
            ],
        )

    def supersede_lines(self, transaction_id: int, now: datetime) -> None:
        self.conn.execute(
            update(commission_lines)
            .where(
                commission_lines.c.transaction_id == transaction_id,
                commission_lines.c.superseded_at.is_(None),
            )
            .values(superseded_at=now)
        )


def transaction_from_row(row: Row[Any]) -> Transaction:
    """A domain transaction from a ``transactions`` row."""
    return Transaction(
        transaction_id=row.transaction_id,
        merchant_id=row.merchant_id,
        out_trans_id=row.out_trans_id,
        direction=cast(Direction, row.direction),
        trans_date=row.trans_date,
        amount_minor=row.amount_minor,
        status=CommissionStatus(row.status),
        content=json.loads(row.content),
        contract_id=row.contract_id,
        origin_id=row.origin_id,
        sub_merchant_id=row.sub_merchant_id,
        store_id=row.store_id,
    )


def line_from_row(row: Row[Any]) -> StoredLine:
    """A domain line from a ``commission_lines`` row."""
    return StoredLine(
        line_id=row.line_id,
        line_no=row.line_no,
        contract_id=row.contract_id,
        rule_kind=row.rule_kind,
        rule_value=row.rule_value,
        base_minor=row.base_minor,
        commission_e4=row.commission_e4,
        goods_index=row.goods_index,
        goods_code=row.goods_code,
        reverses_line_id=row.reverses_line_id,
    )


def contract_from_rows(row: Row[Any], rules: Any) -> Contract:
    """A domain contract from its row and its rule rows."""
    return Contract(
        contract_id=row.contract_id,
        merchant_id=row.merchant_id,
        valid_from=row.valid_from,
        valid_to=row.valid_to,
        rules={r.goods_code: Rule(kind=cast(RuleKind, r.kind), value=r.value) for r in rules},
        default_rate_bp=row.default_rate_bp,
        goods_window=(
            None if row.goods_window_days is None else timedelta(days=row.goods_window_days)
        ),
        amount_threshold_minor=row.amount_threshold_minor,
    )
