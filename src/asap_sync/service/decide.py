"""Deciding a batch of syncs: the business rules of SPEC §4 as one pure function.

:func:`decide_batch` folds the batch's syncs, in arrival order, over what the ledger held for
their keys (a :class:`~asap_sync.service.ports.LedgerView`) and the merchants' contracts. It
returns each sync's answer and one :class:`~asap_sync.service.ports.WritePlan`. A sync whose
keys (its binding, its transaction, its origin) an earlier sync of the batch is about to write
is *deferred*: it is decided in the next batch, once those writes are committed. So a batch
decides exactly what deciding its syncs one at a time, in the same order, would.

Nothing here reads or writes: every case (new pay, refund, goods update, replay, re-send, every
rejection) goes through the same fold, whatever the database.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo

from asap_sync.domain.commission import (
    check_goods_within_threshold,
    check_not_fully_refunded,
    pay_amount_minor,
    pay_lines,
    pick_contract,
    plan_refund,
)
from asap_sync.domain.errors import (
    MerchantMismatch,
    MerchantNotLinked,
    NoValidContract,
    OriginNotFound,
    RefundExceedsOrigin,
    RuleViolation,
)
from asap_sync.domain.idempotency import check_replay
from asap_sync.domain.model import Contract, LineDraft, StoredLine, SyncCommand
from asap_sync.domain.money import format_minor_hkd
from asap_sync.domain.periods import period_of
from asap_sync.domain.transactions import (
    Resend,
    check_not_in_future,
    check_not_late,
    check_update_allowed,
    classify_resend,
)
from asap_sync.service.ports import (
    Binding,
    Guard,
    LedgerKeys,
    LedgerView,
    LineWrite,
    LinkKey,
    NewTransaction,
    SignedRequest,
    StoredTransaction,
    SyncWrites,
    TransactionKey,
    WritePlan,
)


class Outcome(enum.Enum):
    """How a successful sync was handled."""

    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"  # an existing transaction re-sent identically under a new requestId
    REPLAYED = "replayed"  # the same requestId again, same content


class Pending(enum.Enum):
    """Why a sync has no answer yet."""

    DEFERRED = "deferred"  # an earlier sync of the batch writes its keys: decide it next batch
    DIRECTORY_MOVED = "directory moved"  # its gateway checks used another directory version


Answer = Outcome | RuleViolation | Pending


@dataclass(frozen=True, kw_only=True, slots=True)
class AcceptPolicy:
    """The configurable limits of SPEC §4."""

    late_limit_months: int = 6
    zone: tzinfo = field(default_factory=lambda: ZoneInfo("Asia/Hong_Kong"))


@dataclass(frozen=True, kw_only=True, slots=True)
class PendingSync:
    """A sync past the gateway: its command, the signed request, when it arrived, and the
    directory version its gateway checks were made at."""

    command: SyncCommand
    request: SignedRequest
    now: datetime
    directory_version: int | None


@dataclass(frozen=True, kw_only=True, slots=True)
class BatchDecision:
    """Each sync's answer, in batch order, and the writes of the accepted ones."""

    answers: tuple[Answer, ...]
    plan: WritePlan


Contracts = Mapping[LinkKey, Sequence[Contract] | None]


def keys_of(syncs: Sequence[PendingSync]) -> LedgerKeys:
    """What deciding ``syncs`` reads from the ledger."""
    commands = [s.command for s in syncs]
    return LedgerKeys(
        bindings=frozenset((c.client_id, c.request_id) for c in commands),
        transactions=frozenset(k for c in commands for k in _transaction_keys(c)),
        origins=frozenset(
            (c.client_id, c.origin_trans_id) for c in commands if c.origin_trans_id is not None
        ),
    )


def links_of(syncs: Sequence[PendingSync]) -> frozenset[LinkKey]:
    """The (client, merchant) links whose contracts deciding ``syncs`` needs."""
    return frozenset((s.command.client_id, s.command.merchant_id) for s in syncs)


def decide_batch(
    view: LedgerView, contracts: Contracts, syncs: Sequence[PendingSync], *, policy: AcceptPolicy
) -> BatchDecision:
    """Decide ``syncs`` in order; see the module documentation."""
    touched: set[object] = set()
    answers: list[Answer] = []
    writes: list[SyncWrites] = []
    for position, sync in enumerate(syncs):
        keys = _all_keys(sync.command)
        if touched & keys:
            touched |= keys  # a later sync of the same keys waits behind this one
            answers.append(Pending.DEFERRED)
            continue
        if sync.directory_version != view.directory_version:
            touched |= keys
            answers.append(Pending.DIRECTORY_MOVED)
            continue
        try:
            outcome, written = _decide(view, contracts, sync, position, policy)
        except RuleViolation as violation:
            answers.append(violation)
            continue
        answers.append(outcome)
        if written is not None:
            writes.append(written)
            touched |= _written_keys(sync.command, written)
    return BatchDecision(
        answers=tuple(answers),
        plan=WritePlan(directory_version=view.directory_version, syncs=tuple(writes)),
    )


def _transaction_keys(command: SyncCommand) -> list[TransactionKey]:
    keys = [(command.merchant_id, command.out_trans_id)]
    if command.origin_trans_id is not None:
        keys.append((command.merchant_id, command.origin_trans_id))
    return keys


def _all_keys(command: SyncCommand) -> set[object]:
    """The keys a sync reads and may write. A refund also reads whether any merchant holds a
    pay of its originTransId (to tell INVALID_MERCHANT from ORDER_NOT_EXIST); a new pay of that
    outTransId, of whatever merchant, changes the answer."""
    keys: set[object] = {("b", command.client_id, command.request_id)}
    keys |= {("t", *key) for key in _transaction_keys(command)}
    if command.direction == "pay":
        keys.add(("o", command.out_trans_id))
    if command.origin_trans_id is not None:
        keys.add(("o", command.origin_trans_id))
    return keys


def _written_keys(command: SyncCommand, written: SyncWrites) -> set[object]:
    """What a later sync must not be decided on before ``written`` is committed."""
    if written.create is None and written.guard is None:
        return {("b", command.client_id, command.request_id)}  # a re-send binds, nothing more
    return _all_keys(command)


def _decide(
    view: LedgerView,
    contracts: Contracts,
    sync: PendingSync,
    position: int,
    policy: AcceptPolicy,
) -> tuple[Outcome, SyncWrites | None]:
    command, now = sync.command, sync.now
    check_not_in_future(command.trans_date, now)
    bound = view.bindings.get((command.client_id, command.request_id))
    if bound is not None:
        check_replay(bound.content, command.content)
        return Outcome.REPLAYED, None
    linked = contracts.get((command.client_id, command.merchant_id))
    if linked is None:
        raise MerchantNotLinked(
            f"client {command.client_id} is not linked to merchantId {command.merchant_id}"
        )
    base = SyncWrites(sync=position, request=sync.request, binding=_binding(command), at=now)
    existing = view.transactions.get((command.merchant_id, command.out_trans_id))
    if existing is None:
        check_not_late(command.trans_date, now, policy.late_limit_months)
        return Outcome.CREATED, _create(view, linked, command, base, policy)
    if classify_resend(existing.transaction, command) is Resend.IDENTICAL:
        # Only the binding is written: the transaction is read, not changed.
        return Outcome.UNCHANGED, base
    return Outcome.UPDATED, _update(_contract_of(linked, existing), existing, command, base)


def _binding(command: SyncCommand) -> Binding:
    return Binding(
        client_id=command.client_id,
        request_id=command.request_id,
        merchant_id=command.merchant_id,
        out_trans_id=command.out_trans_id,
        content=command.content,
    )


def _guard(stored: StoredTransaction, **update: object) -> Guard:
    return Guard(
        transaction_id=stored.transaction.transaction_id,
        revision=stored.revision,
        status=stored.transaction.status.value,
        **update,  # type: ignore[arg-type]
    )


def _with(base: SyncWrites, **changes: object) -> SyncWrites:
    return SyncWrites(
        sync=base.sync,
        request=base.request,
        binding=base.binding,
        at=base.at,
        **changes,  # type: ignore[arg-type]
    )


def _create(
    view: LedgerView,
    contracts: Sequence[Contract],
    command: SyncCommand,
    base: SyncWrites,
    policy: AcceptPolicy,
) -> SyncWrites:
    if command.direction == "refund":
        return _create_refund(view, contracts, command, base, policy)
    contract = pick_contract(contracts, command.merchant_id, command.trans_date)
    check_goods_within_threshold(
        command.trade_amount_minor, command.goods, contract.effective_threshold_minor
    )
    amount = pay_amount_minor(command.trade_amount_minor, command.goods)
    lines = pay_lines(contract, command.trade_amount_minor, command.goods)
    return _with(
        base,
        create=_new_transaction(command, amount, contract, None, base.at, policy),
        lines=tuple(LineWrite(transaction_id=None, draft=line) for line in lines),
    )


def _create_refund(
    view: LedgerView,
    contracts: Sequence[Contract],
    command: SyncCommand,
    base: SyncWrites,
    policy: AcceptPolicy,
) -> SyncWrites:
    stored = _origin_of(view, command)
    origin = stored.transaction
    refunded = sum(r.amount_minor for r in stored.refunds)
    if command.trade_amount_minor is None:
        check_not_fully_refunded(
            origin.out_trans_id, origin.amount_minor, refunded, refunds=len(stored.refunds)
        )
    plan = plan_refund(
        origin_out_trans_id=origin.out_trans_id,
        origin_amount_minor=origin.amount_minor,
        refunded_before_minor=refunded,
        requested_minor=command.trade_amount_minor,
        origin_lines=stored.lines,
        reversed_before_e4=stored.reversed_by_line,
    )
    contract = _contract_of(contracts, stored)
    check_goods_within_threshold(
        command.trade_amount_minor, command.goods, contract.effective_threshold_minor
    )
    new = _new_transaction(
        command, plan.amount_minor, contract, origin.transaction_id, base.at, policy
    )
    return _with(
        base,
        create=new,
        guard=_guard(stored),  # refunds of one origin are decided one after the other
        lines=tuple(LineWrite(transaction_id=None, draft=line) for line in plan.lines),
    )


def _new_transaction(
    command: SyncCommand,
    amount_minor: int,
    contract: Contract,
    origin_id: int | None,
    now: datetime,
    policy: AcceptPolicy,
) -> NewTransaction:
    return NewTransaction(
        merchant_id=command.merchant_id,
        out_trans_id=command.out_trans_id,
        client_id=command.client_id,
        direction=command.direction,
        origin_id=origin_id,
        sub_merchant_id=command.sub_merchant_id,
        store_id=command.store_id,
        trans_date=command.trans_date,
        amount_minor=amount_minor,
        contract_id=contract.contract_id,
        period=period_of(now, policy.zone),
        content=command.content,
    )


def _origin_of(view: LedgerView, command: SyncCommand) -> StoredTransaction:
    assert command.origin_trans_id is not None
    stored = view.transactions.get((command.merchant_id, command.origin_trans_id))
    if stored is None or stored.transaction.direction != "pay":
        holders = view.origin_merchants.get((command.client_id, command.origin_trans_id), ())
        if any(merchant != command.merchant_id for merchant in holders):
            raise MerchantMismatch(
                f"originTransId {command.origin_trans_id} belongs to another merchant "
                f"than {command.merchant_id}"
            )
        raise OriginNotFound(
            f"originTransId {command.origin_trans_id}: no pay transaction of merchant "
            f"{command.merchant_id} has this outTransId"
        )
    origin = stored.transaction
    for name, mine, theirs in (
        ("subMerchantId", command.sub_merchant_id, origin.sub_merchant_id),
        ("storeId", command.store_id, origin.store_id),
    ):
        if mine is not None and mine != theirs:
            raise MerchantMismatch(
                f"{name} {mine} contradicts the origin {origin.out_trans_id} ({theirs or 'none'})"
            )
    return stored


def _contract_of(contracts: Sequence[Contract], stored: StoredTransaction) -> Contract:
    """The contract a stored transaction was accepted under (it belongs to its merchant)."""
    for contract in contracts:
        if contract.contract_id == stored.transaction.contract_id:
            return contract
    raise NoValidContract(f"the contract of {stored.transaction.out_trans_id} no longer exists")


def _update(
    contract: Contract, stored: StoredTransaction, command: SyncCommand, base: SyncWrites
) -> SyncWrites:
    """Goods and descriptive fields change; a pay's lines and its refunds' reversals follow.

    A pay without ``tradeAmt`` is worth its goods, so its amount follows them too.
    """
    existing = stored.transaction
    check_update_allowed(existing, base.at, contract.effective_goods_window)
    check_goods_within_threshold(
        command.trade_amount_minor, command.goods, contract.effective_threshold_minor
    )
    if existing.direction != "pay":
        guard = _guard(stored, content=command.content, amount_minor=existing.amount_minor)
        return _with(base, guard=guard)
    amount = pay_amount_minor(command.trade_amount_minor, command.goods)
    refunded = sum(r.amount_minor for r in stored.refunds)
    if refunded > amount:
        raise RefundExceedsOrigin(
            f"{existing.out_trans_id} would be worth {format_minor_hkd(amount)} "
            f"HKD, less than the {format_minor_hkd(refunded)} HKD already refunded"
        )
    lines = pay_lines(contract, command.trade_amount_minor, command.goods)
    own = tuple(LineWrite(transaction_id=existing.transaction_id, draft=d) for d in lines)
    return _with(
        base,
        guard=_guard(stored, content=command.content, amount_minor=amount),
        supersede=(existing.transaction_id, *(r.transaction_id for r in stored.refunds)),
        lines=own + _recomputed_reversals(stored, amount, own),
    )


def _recomputed_reversals(
    stored: StoredTransaction, amount_minor: int, new_lines: tuple[LineWrite, ...]
) -> tuple[LineWrite, ...]:
    """A PENDING pay's refunds are PENDING too, so their reversals follow its new lines.

    The new lines have no ids yet: they stand in here under ``-line_no``."""
    standing = [
        StoredLine(
            line_id=-w.draft.line_no,
            line_no=w.draft.line_no,
            contract_id=w.draft.contract_id,
            rule_kind=w.draft.rule_kind,
            rule_value=w.draft.rule_value,
            base_minor=w.draft.base_minor,
            commission_e4=w.draft.commission_e4,
            goods_index=w.draft.goods_index,
            goods_code=w.draft.goods_code,
        )
        for w in new_lines
    ]
    refunded, reversed_so_far = 0, dict.fromkeys((line.line_id for line in standing), 0)
    writes: list[LineWrite] = []
    for refund in stored.refunds:
        plan = plan_refund(
            origin_out_trans_id=stored.transaction.out_trans_id,
            origin_amount_minor=amount_minor,
            refunded_before_minor=refunded,
            requested_minor=refund.amount_minor,
            origin_lines=standing,
            reversed_before_e4=reversed_so_far,
        )
        for line in plan.lines:
            assert line.reverses_line_id is not None
            reversed_so_far[line.reverses_line_id] -= line.commission_e4
            writes.append(
                LineWrite(
                    transaction_id=refund.transaction_id,
                    draft=_without_reference(line),
                    reverses_new_line=-line.reverses_line_id,
                )
            )
        refunded += refund.amount_minor
    return tuple(writes)


def _without_reference(line: LineDraft) -> LineDraft:
    return replace(line, reverses_line_id=None)
