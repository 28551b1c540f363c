"""Accept a sync: the business rules of SPEC §4 in their order, in one database transaction."""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo

from asap_sync.domain.commission import (
    check_goods_within_threshold,
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
from asap_sync.domain.model import Contract, LineDraft, SyncCommand, Transaction
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
    FastPath,
    MerchantContracts,
    NewTransaction,
    PlannedCreate,
    SignedRequest,
    SyncRepository,
    UnitOfWork,
)

MAX_ATTEMPTS = 5


class Outcome(enum.Enum):
    """How a successful sync was handled."""

    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"  # an existing transaction re-sent identically under a new requestId
    REPLAYED = "replayed"  # the same requestId again, same content


@dataclass(frozen=True, kw_only=True, slots=True)
class AcceptPolicy:
    """The configurable limits of SPEC §4."""

    late_limit_months: int = 6
    zone: tzinfo = field(default_factory=lambda: ZoneInfo("Asia/Hong_Kong"))


class ConcurrentWrite(Exception):
    """Another worker wrote the same transaction first; the use case runs again."""


def accept_sync(
    uow_factory: Callable[[], UnitOfWork],
    command: SyncCommand,
    request: SignedRequest,
    *,
    now: datetime,
    policy: AcceptPolicy,
) -> Outcome:
    """Apply the rules in order; on success everything is written, on a rejection nothing.

    Raises a :class:`~asap_sync.domain.errors.RuleViolation` for a business rejection.
    """
    check_not_in_future(command.trans_date, now)
    for _ in range(MAX_ATTEMPTS - 1):
        try:
            return _attempt(uow_factory, command, request, now, policy)
        except ConcurrentWrite:
            continue
    return _attempt(uow_factory, command, request, now, policy)


def new_pay_fast_path(
    command: SyncCommand, request: SignedRequest, *, now: datetime, policy: AcceptPolicy
) -> FastPath[Outcome]:
    """The common case of :func:`accept_sync` as writes planned ahead: a new pay, under a new
    requestId, that every rule accepts. A writer may apply them in one statement that first
    checks the binding and the transaction are both new; in any other case the use case runs."""
    return FastPath(
        plan=lambda directory: plan_new_pay(directory, command, request, now=now, policy=policy),
        value=Outcome.CREATED,
    )


def plan_new_pay(
    directory: MerchantContracts,
    command: SyncCommand,
    request: SignedRequest,
    *,
    now: datetime,
    policy: AcceptPolicy,
) -> PlannedCreate | None:
    """What :func:`accept_sync` would write for ``command`` if neither its requestId nor its
    transaction existed; None when it would not simply create a pay."""
    if command.direction != "pay":
        return None
    contracts = directory.merchant_contracts(command.client_id, command.merchant_id)
    if contracts is None:
        return None
    try:
        check_not_in_future(command.trans_date, now)
        check_not_late(command.trans_date, now, policy.late_limit_months)
        transaction, lines = _new_pay(contracts, command, now, policy)
    except RuleViolation:
        return None
    return PlannedCreate(
        request=request, binding=_binding(command), transaction=transaction, lines=lines
    )


def _binding(command: SyncCommand) -> Binding:
    return Binding(
        client_id=command.client_id,
        request_id=command.request_id,
        merchant_id=command.merchant_id,
        out_trans_id=command.out_trans_id,
        content=command.content,
    )


def _attempt(
    uow_factory: Callable[[], UnitOfWork],
    command: SyncCommand,
    request: SignedRequest,
    now: datetime,
    policy: AcceptPolicy,
) -> Outcome:
    with uow_factory() as uow:
        outcome = _decide(uow.syncs, command, request, now, policy)
        if outcome is not Outcome.REPLAYED:
            uow.commit()
        return outcome


def _decide(
    repo: SyncRepository,
    command: SyncCommand,
    request: SignedRequest,
    now: datetime,
    policy: AcceptPolicy,
) -> Outcome:
    raw_id = repo.add_raw_request(request)
    # Binding first: a concurrent request with the same key waits here for this one to end.
    if not repo.bind(_binding(command), raw_id, now):
        bound = repo.get_binding(command.client_id, command.request_id)
        if bound is None:
            raise ConcurrentWrite
        check_replay(bound.content, command.content)
        return Outcome.REPLAYED
    contracts = repo.merchant_contracts(command.client_id, command.merchant_id)
    if contracts is None:
        raise MerchantNotLinked(
            f"client {command.client_id} is not linked to merchantId {command.merchant_id}"
        )
    existing = repo.get_transaction(command.merchant_id, command.out_trans_id)
    if existing is None:
        check_not_late(command.trans_date, now, policy.late_limit_months)
        _create(repo, contracts, command, raw_id, now, policy)
        return Outcome.CREATED
    if classify_resend(existing, command) is Resend.IDENTICAL:
        return Outcome.UNCHANGED
    _update(repo, _contract_of(contracts, existing), existing, command, raw_id, now)
    return Outcome.UPDATED


def _create(
    repo: SyncRepository,
    contracts: Sequence[Contract],
    command: SyncCommand,
    raw_id: int,
    now: datetime,
    policy: AcceptPolicy,
) -> None:
    if command.direction == "refund":
        origin = _origin_of(repo, command)
        refunded = sum(r.amount_minor for r in repo.refunds_of(origin.transaction_id))
        plan = plan_refund(
            origin_out_trans_id=origin.out_trans_id,
            origin_amount_minor=origin.amount_minor,
            refunded_before_minor=refunded,
            requested_minor=command.trade_amount_minor,
            origin_lines=repo.active_lines(origin.transaction_id),
            reversed_before_e4=repo.reversed_by_line(origin.transaction_id),
        )
        contract = _contract_of(contracts, origin)
        check_goods_within_threshold(
            command.trade_amount_minor, command.goods, contract.effective_threshold_minor
        )
        lines: Sequence[LineDraft] = plan.lines
        new = _new_transaction(
            command, plan.amount_minor, contract, origin.transaction_id, now, policy
        )
    else:
        new, lines = _new_pay(contracts, command, now, policy)
    new_id = repo.insert_transaction(new, raw_id)
    if new_id is None:
        raise ConcurrentWrite
    repo.add_lines(new_id, lines, now)


def _new_pay(
    contracts: Sequence[Contract], command: SyncCommand, now: datetime, policy: AcceptPolicy
) -> tuple[NewTransaction, Sequence[LineDraft]]:
    contract = pick_contract(contracts, command.merchant_id, command.trans_date)
    check_goods_within_threshold(
        command.trade_amount_minor, command.goods, contract.effective_threshold_minor
    )
    amount = pay_amount_minor(command.trade_amount_minor, command.goods)
    lines = pay_lines(contract, command.trade_amount_minor, command.goods)
    return _new_transaction(command, amount, contract, None, now, policy), lines


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
        accepted_at=now,
    )


def _origin_of(repo: SyncRepository, command: SyncCommand) -> Transaction:
    assert command.origin_trans_id is not None
    origin = repo.get_transaction(command.merchant_id, command.origin_trans_id)
    if origin is None or origin.direction != "pay":
        if repo.linked_merchant_has(
            command.client_id, command.origin_trans_id, but_not=command.merchant_id
        ):
            raise MerchantMismatch(
                f"originTransId {command.origin_trans_id} belongs to another merchant "
                f"than {command.merchant_id}"
            )
        raise OriginNotFound(
            f"originTransId {command.origin_trans_id}: no pay transaction of merchant "
            f"{command.merchant_id} has this outTransId"
        )
    for name, mine, theirs in (
        ("subMerchantId", command.sub_merchant_id, origin.sub_merchant_id),
        ("storeId", command.store_id, origin.store_id),
    ):
        if mine is not None and mine != theirs:
            raise MerchantMismatch(
                f"{name} {mine} contradicts the origin {origin.out_trans_id} ({theirs or 'none'})"
            )
    return origin


def _contract_of(contracts: Sequence[Contract], transaction: Transaction) -> Contract:
    """The contract a stored transaction was accepted under (it belongs to its merchant)."""
    for contract in contracts:
        if contract.contract_id == transaction.contract_id:
            return contract
    raise NoValidContract(f"the contract of {transaction.out_trans_id} no longer exists")


def _update(
    repo: SyncRepository,
    contract: Contract,
    existing: Transaction,
    command: SyncCommand,
    raw_id: int,
    now: datetime,
) -> None:
    """Goods and descriptive fields change; a pay's lines and its refunds' reversals follow.

    A pay without ``tradeAmt`` is worth its goods, so its amount follows them too.
    """
    check_update_allowed(existing, now, contract.effective_goods_window)
    check_goods_within_threshold(
        command.trade_amount_minor, command.goods, contract.effective_threshold_minor
    )
    if existing.direction != "pay":
        repo.update_transaction(
            existing.transaction_id, command.content, existing.amount_minor, raw_id, now
        )
        return
    updated = replace(
        existing, amount_minor=pay_amount_minor(command.trade_amount_minor, command.goods)
    )
    refunded = sum(r.amount_minor for r in repo.refunds_of(existing.transaction_id))
    if refunded > updated.amount_minor:
        raise RefundExceedsOrigin(
            f"{existing.out_trans_id} would be worth {format_minor_hkd(updated.amount_minor)} "
            f"HKD, less than the {format_minor_hkd(refunded)} HKD already refunded"
        )
    repo.update_transaction(
        existing.transaction_id, command.content, updated.amount_minor, raw_id, now
    )
    repo.supersede_lines(existing.transaction_id, now)
    repo.add_lines(
        existing.transaction_id,
        pay_lines(contract, command.trade_amount_minor, command.goods),
        now,
    )
    _recompute_reversals(repo, updated, now)


def _recompute_reversals(repo: SyncRepository, origin: Transaction, now: datetime) -> None:
    """A PENDING pay's refunds are PENDING too, so their reversals can follow its new lines."""
    new_lines = repo.active_lines(origin.transaction_id)
    refunded, reversed_so_far = 0, dict.fromkeys((line.line_id for line in new_lines), 0)
    for refund in repo.refunds_of(origin.transaction_id):
        plan = plan_refund(
            origin_out_trans_id=origin.out_trans_id,
            origin_amount_minor=origin.amount_minor,
            refunded_before_minor=refunded,
            requested_minor=refund.amount_minor,
            origin_lines=new_lines,
            reversed_before_e4=reversed_so_far,
        )
        repo.supersede_lines(refund.transaction_id, now)
        repo.add_lines(refund.transaction_id, plan.lines, now)
        refunded += refund.amount_minor
        for line in plan.lines:
            assert line.reverses_line_id is not None
            reversed_so_far[line.reverses_line_id] -= line.commission_e4
