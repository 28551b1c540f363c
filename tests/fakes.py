"""In-memory fakes of the ingestion ports: a ledger and a directory of contracts.

The fake ledger keeps the same tables as the database (raw requests, bindings, transactions,
commission lines) and the same preconditions as the SQL adapters, so the service can be tested
without a database, and its ledgers compared with theirs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from asap_sync.domain.model import CommissionStatus, Contract, StoredLine, Transaction
from asap_sync.service.ports import (
    Binding,
    LedgerKeys,
    LedgerView,
    LinkKey,
    StoredTransaction,
    SyncWrites,
    WritePlan,
)


@dataclass
class _Row:
    transaction: Transaction
    revision: int
    raw_request_id: int


@dataclass
class _Line:
    transaction_id: int
    line: StoredLine
    active: bool = True


@dataclass
class FakeLedger:
    """Implements :class:`asap_sync.service.ports.Ledger` in memory."""

    directory_version: int | None = 1
    raw_requests: list[Any] = field(default_factory=list)
    bindings: dict[tuple[str, str], Binding] = field(default_factory=dict)
    rows: dict[int, _Row] = field(default_factory=dict)
    lines: dict[int, _Line] = field(default_factory=dict)
    links: set[tuple[str, str]] = field(default_factory=set)  # (client, merchant), for origins
    reads: int = 0
    applies: int = 0
    before_apply: list[Any] = field(default_factory=list)  # callbacks: a concurrent writer

    def read(self, keys: LedgerKeys) -> LedgerView:
        self.reads += 1
        by_key = {
            (r.transaction.merchant_id, r.transaction.out_trans_id): r for r in self.rows.values()
        }
        stored = {key: self._stored(by_key[key]) for key in keys.transactions if key in by_key}
        origins: dict[tuple[str, str], frozenset[str]] = {}
        for client_id, out_trans_id in keys.origins:
            origins[(client_id, out_trans_id)] = frozenset(
                r.transaction.merchant_id
                for r in self.rows.values()
                if r.transaction.out_trans_id == out_trans_id
                and r.transaction.direction == "pay"
                and (client_id, r.transaction.merchant_id) in self.links
            )
        return LedgerView(
            directory_version=self.directory_version,
            bindings={k: self.bindings[k] for k in keys.bindings if k in self.bindings},
            transactions=stored,
            origin_merchants=origins,
        )

    def _stored(self, row: _Row) -> StoredTransaction:
        tid = row.transaction.transaction_id
        refunds = sorted(
            (r.transaction for r in self.rows.values() if r.transaction.origin_id == tid),
            key=lambda t: t.transaction_id,
        )
        refund_ids = {r.transaction_id for r in refunds}
        reversed_by: dict[int, int] = {}
        for line in self.lines.values():
            if line.active and line.transaction_id in refund_ids and line.line.reverses_line_id:
                key = line.line.reverses_line_id
                reversed_by[key] = reversed_by.get(key, 0) - line.line.commission_e4
        own = sorted(
            (x.line for x in self.lines.values() if x.transaction_id == tid and x.active),
            key=lambda line: line.line_no,
        )
        return StoredTransaction(
            transaction=row.transaction,
            revision=row.revision,
            lines=tuple(own),
            refunds=tuple(refunds),
            reversed_by_line=reversed_by,
        )

    def apply(self, plan: WritePlan) -> frozenset[int]:
        self.applies += 1
        for callback in self.before_apply:
            callback(self)
        if plan.directory_version != self.directory_version:
            return frozenset(s.sync for s in plan.syncs)
        failed = set()
        for sync in plan.syncs:
            if self._holds(sync):
                self._write(sync)
            else:
                failed.add(sync.sync)
        return frozenset(failed)

    def _holds(self, sync: SyncWrites) -> bool:
        binding, new, guard = sync.binding, sync.create, sync.guard
        if (binding.client_id, binding.request_id) in self.bindings:
            return False
        if new is not None and any(
            (r.transaction.merchant_id, r.transaction.out_trans_id)
            == (new.merchant_id, new.out_trans_id)
            for r in self.rows.values()
        ):
            return False
        if guard is not None:
            row = self.rows.get(guard.transaction_id)
            if row is None or (row.revision, row.transaction.status.value) != (
                guard.revision,
                guard.status,
            ):
                return False
        return True

    def _write(self, sync: SyncWrites) -> None:
        self.raw_requests.append(sync.request)
        raw_id = len(self.raw_requests)
        binding = sync.binding
        self.bindings[(binding.client_id, binding.request_id)] = binding
        created = None
        if sync.create is not None:
            new, created = sync.create, max(self.rows, default=0) + 1
            self.rows[created] = _Row(
                transaction=Transaction(
                    transaction_id=created,
                    merchant_id=new.merchant_id,
                    out_trans_id=new.out_trans_id,
                    direction=new.direction,  # type: ignore[arg-type]
                    trans_date=new.trans_date,
                    amount_minor=new.amount_minor,
                    status=CommissionStatus.PENDING,
                    content=new.content,
                    contract_id=new.contract_id,
                    origin_id=new.origin_id,
                    sub_merchant_id=new.sub_merchant_id,
                    store_id=new.store_id,
                ),
                revision=1,
                raw_request_id=raw_id,
            )
        if sync.guard is not None:
            row, guard = self.rows[sync.guard.transaction_id], sync.guard
            row.revision += 1
            if guard.content is not None and guard.amount_minor is not None:
                row.transaction = replace(
                    row.transaction, content=guard.content, amount_minor=guard.amount_minor
                )
                row.raw_request_id = raw_id
        for line in self.lines.values():
            if line.transaction_id in sync.supersede:
                line.active = False
        self._add_lines(sync, created)

    def _add_lines(self, sync: SyncWrites, created: int | None) -> None:
        new_lines: dict[int, int] = {}
        guarded = None if sync.guard is None else sync.guard.transaction_id
        for write in sync.lines:
            line_id = max(self.lines, default=0) + 1
            owner = created if write.transaction_id is None else write.transaction_id
            assert owner is not None
            draft = write.draft
            reverses = draft.reverses_line_id
            if write.reverses_new_line is not None:
                reverses = new_lines[write.reverses_new_line]
            elif owner == guarded:
                new_lines[draft.line_no] = line_id
            self.lines[line_id] = _Line(
                transaction_id=owner,
                line=StoredLine(
                    line_id=line_id,
                    line_no=draft.line_no,
                    contract_id=draft.contract_id,
                    rule_kind=draft.rule_kind,
                    rule_value=draft.rule_value,
                    base_minor=draft.base_minor,
                    commission_e4=draft.commission_e4,
                    goods_index=draft.goods_index,
                    goods_code=draft.goods_code,
                    reverses_line_id=reverses,
                ),
            )

    def dump(self) -> dict[str, Any]:
        """The ledger by business keys (ids aside), to compare with another."""
        key_of = {
            tid: (r.transaction.merchant_id, r.transaction.out_trans_id)
            for tid, r in self.rows.items()
        }
        line_key = {
            lid: (key_of[line.transaction_id], line.line.line_no, lid)
            for lid, line in self.lines.items()
        }
        return ledger_dump(
            bindings={k: dict(b.content) for k, b in self.bindings.items()},
            transactions={
                key_of[tid]: (
                    r.transaction.direction,
                    r.transaction.amount_minor,
                    dict(r.transaction.content),
                    None if r.transaction.origin_id is None else key_of[r.transaction.origin_id],
                    r.transaction.status.value,
                    r.revision,
                )
                for tid, r in self.rows.items()
            },
            lines=[
                (
                    key_of[line.transaction_id],
                    line.line.line_no,
                    line.active,
                    line.line.rule_kind,
                    line.line.commission_e4,
                    None
                    if line.line.reverses_line_id is None
                    else line_key[line.line.reverses_line_id][:2],
                )
                for line in self.lines.values()
            ],
        )


def ledger_dump(
    *, bindings: Mapping[Any, Any], transactions: Mapping[Any, Any], lines: Iterable[Any]
) -> dict[str, Any]:
    """A ledger in a form that compares equal whatever the ids and the row order."""
    return {
        "bindings": dict(sorted(bindings.items())),
        "transactions": dict(sorted(transactions.items())),
        "lines": sorted(lines, key=repr),
    }


@dataclass
class FakeContracts:
    """Implements :class:`asap_sync.service.ports.MerchantContracts` from a fixed table."""

    ledger: FakeLedger
    contracts: dict[LinkKey, Sequence[Contract]] = field(default_factory=dict)

    def contracts_at(
        self, version: int | None, links: Iterable[LinkKey]
    ) -> Mapping[LinkKey, Sequence[Contract] | None] | None:
        if version != self.ledger.directory_version:
            return None
        return {link: self.contracts.get(link) for link in links}
