"""Operator use cases for CPS contracts: add (never overlapping), end, list."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any, cast, get_args

from asap_sync.domain.contracts import check_no_overlap
from asap_sync.domain.errors import ContractOverlap
from asap_sync.domain.model import Contract, Rule, RuleKind
from asap_sync.service.admin_ports import (
    AdminError,
    AdminRepository,
    AdminSessions,
    AdminUnitOfWork,
    check_id,
)

GOODS_CODES = ("RENEWAL", "NEW_CONTRACT")  # the wire's goodsCode enumeration (SPEC §3)
MAX_RATE_BP = 10_000  # 100 % of the base: more would pay out more than was sold
MAX_FIXED_MINOR = 10**15
MAX_THRESHOLD_MINOR = 10**18 - 1  # the largest tradeAmt the wire accepts
MAX_GOODS_WINDOW_DAYS = 3650


@dataclass(frozen=True, kw_only=True, slots=True)
class NewContract:
    """A contract as the operator records it; ``valid_to`` None means open-ended."""

    contract_id: str
    merchant_id: str
    valid_from: datetime
    valid_to: datetime | None = None
    rules: Mapping[str, Rule]
    default_rate_bp: int = 0
    goods_window_days: int | None = None
    amount_threshold_minor: int | None = None


def parse_moment(text: str, zone: tzinfo) -> datetime:
    """An ISO date (midnight in the platform's zone) or an ISO datetime with an offset."""
    text = text.strip()
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(), tzinfo=zone)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise AdminError(
            f"{text!r} is not a date (2025-01-01) or a datetime with offset "
            "(2025-01-01T00:00:00+08:00)"
        ) from None
    if moment.tzinfo is None:
        raise AdminError(f"{text!r} has no offset: add one (+08:00, Z) or give a plain date")
    return moment


def parse_rule(text: str) -> tuple[str, Rule]:
    """``RENEWAL=rate:150`` (basis points) or ``NEW_CONTRACT=fixed:5000`` (minor units per item)."""
    code, _, spec = text.partition("=")
    kind, _, amount = spec.partition(":")
    code, kind = code.strip(), kind.strip().lower()
    if kind not in get_args(RuleKind) or not amount.strip().isdigit():
        raise AdminError(
            f"rule {text!r} is not CODE=rate:<basis points> or CODE=fixed:<minor units>"
        )
    rule = Rule(kind=cast(RuleKind, kind), value=int(amount))
    _check_rule(code, rule)
    return code, rule


def parse_rules(texts: Iterable[str]) -> dict[str, Rule]:
    """Rules by goods code; a goods code given twice is a mistake."""
    rules: dict[str, Rule] = {}
    for text in texts:
        code, rule = parse_rule(text)
        if code in rules:
            raise AdminError(f"goods code {code} has more than one rule")
        rules[code] = rule
    return rules


def _check_rule(code: str, rule: Rule) -> None:
    if code not in GOODS_CODES:
        raise AdminError(f"goods code {code!r} is unknown: use one of {', '.join(GOODS_CODES)}")
    if rule.kind == "rate":
        _check_range(f"rate of {code} in basis points", rule.value, MAX_RATE_BP)
    else:
        _check_range(f"fixed amount of {code} in minor units", rule.value, MAX_FIXED_MINOR)


def _check_range(what: str, value: int, highest: int) -> None:
    if not 0 <= value <= highest:
        raise AdminError(f"{what} must be between 0 and {highest}, not {value}")


def _check_new(new: NewContract) -> Contract:
    check_id("contract id", new.contract_id)
    check_id("merchant id", new.merchant_id)
    for code, rule in new.rules.items():
        _check_rule(code, rule)
    _check_range("default rate in basis points", new.default_rate_bp, MAX_RATE_BP)
    if new.goods_window_days is not None:
        _check_range("goods window in days", new.goods_window_days, MAX_GOODS_WINDOW_DAYS)
    if new.amount_threshold_minor is not None:
        _check_range("amount threshold", new.amount_threshold_minor, MAX_THRESHOLD_MINOR)
    if new.valid_to is not None and new.valid_to <= new.valid_from:
        raise AdminError(
            f"contract {new.contract_id} would end ({new.valid_to.isoformat()}) "
            f"before it starts ({new.valid_from.isoformat()})"
        )
    return Contract(
        contract_id=new.contract_id,
        merchant_id=new.merchant_id,
        valid_from=new.valid_from,
        valid_to=new.valid_to,
        rules=dict(new.rules),
        default_rate_bp=new.default_rate_bp,
        goods_window=(
            None if new.goods_window_days is None else timedelta(days=new.goods_window_days)
        ),
        amount_threshold_minor=new.amount_threshold_minor,
    )


def validate_contract(new: NewContract) -> Contract:
    """The checks of a new contract that need no database (ids, rules, ranges, bounds)."""
    return _check_new(new)


def add_contract(sessions: AdminSessions, new: NewContract, *, now: datetime) -> Contract:
    """Record a merchant's contract; refuses a duplicate id and any overlap with its others.

    The overlap check and the insert share one write transaction that holds the merchant's
    contract lock, so two concurrent adds cannot both pass the check.
    """
    contract = _check_new(new)
    with sessions() as uow:
        add_contract_in(uow, contract, now=now)
        uow.commit()
    return contract


def add_contract_in(uow: AdminUnitOfWork, contract: Contract, *, now: datetime) -> None:
    """The checks that need the database and the insert, in the caller's transaction."""
    check_contract_fits(uow.admin, contract)
    uow.admin.add_contract(contract, now)
    uow.note("contract.add", contract.contract_id, after=contract_fields(contract))


def check_contract_fits(repo: AdminRepository, contract: Contract) -> None:
    """A new id and no overlap, under the merchant's contract lock (until the transaction ends)."""
    repo.lock(f"contracts:{contract.merchant_id}")
    existing = repo.get_contract(contract.contract_id)
    if existing is not None:
        raise AdminError(
            f"contract id {contract.contract_id!r} is already used "
            f"(merchant {existing.merchant_id})"
        )
    try:
        check_no_overlap(contract, repo.contracts(contract.merchant_id))
    except ContractOverlap as exc:
        raise AdminError(str(exc)) from None


def contract_fields(contract: Contract | NewContract) -> dict[str, Any]:
    """A contract as the activity log and proposals show it."""
    return {
        "merchantId": contract.merchant_id,
        "validFrom": _iso(contract.valid_from),
        "validTo": _iso(contract.valid_to),
        "rules": {code: {"kind": r.kind, "value": r.value} for code, r in contract.rules.items()},
        "defaultRateBp": contract.default_rate_bp,
    }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def end_contract(
    sessions: AdminSessions, contract_id: str, *, at: datetime | None = None, now: datetime
) -> Contract:
    """End a contract at ``at`` (exclusive; default now): later transactions need another one.

    A contract can only be shortened, so ending it never creates an overlap.
    """
    with sessions() as uow:
        ended = end_contract_in(uow, contract_id, at=now if at is None else at)
        uow.commit()
    return ended


def end_contract_in(uow: AdminUnitOfWork, contract_id: str, *, at: datetime) -> Contract:
    """The checks of ending a contract and the update, in the caller's transaction."""
    contract = existing_contract(uow.admin, contract_id)
    uow.admin.lock(f"contracts:{contract.merchant_id}")
    check_end(contract, at)
    uow.admin.set_contract_end(contract_id, at)
    ended = existing_contract(uow.admin, contract_id)
    uow.note(
        "contract.end",
        contract_id,
        before={"validTo": _iso(contract.valid_to)},
        after={"validTo": _iso(ended.valid_to)},
    )
    return ended


def check_end(contract: Contract, at: datetime) -> None:
    """A contract can only be shortened, and never to end at or before its start."""
    if at <= contract.valid_from:
        raise AdminError(
            f"contract {contract.contract_id} starts {contract.valid_from.isoformat()}: "
            "it cannot end at or before its start"
        )
    if contract.valid_to is not None and at >= contract.valid_to:
        raise AdminError(
            f"contract {contract.contract_id} already ends {contract.valid_to.isoformat()}; "
            "a contract can only be shortened"
        )


def existing_contract(repo: AdminRepository, contract_id: str) -> Contract:
    """The contract of that id, or the operator's error."""
    contract = repo.get_contract(contract_id)
    if contract is None:
        raise AdminError(f"unknown contract {contract_id!r}")
    return contract


def list_contracts(
    sessions: AdminSessions, *, merchant_id: str | None = None
) -> Sequence[Contract]:
    """Contracts of one merchant or of all, by merchant then start."""
    with sessions(read_only=True) as uow:
        return uow.admin.contracts(merchant_id)
