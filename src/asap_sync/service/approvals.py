"""Two-person approval: a contract change or a period close proposed by one operator takes
effect only when another operator with the right role approves it.

The setting lives in the database (``server_settings``), so the CLI and the console agree;
only an admin changes it, and the change is in the activity log. With the setting off, the
``*_or_propose`` use cases act at once, exactly as before; with it on, they record a proposal.
The setting is read in the same transaction as the action, so an action never slips through
while the setting is being turned on.

Approving re-runs the checks of the direct action on the state of the moment and applies it in
one transaction with the proposal's decision and the activity entries. A period close is the
exception the close itself imposes: the approval commits with the start of the close (the
period becomes CLOSING); the rest of the close runs merchant by merchant and is resumable.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, tzinfo
from typing import Any

from asap_sync.domain.model import Contract, Rule, RuleKind
from asap_sync.domain.settlement import (
    PeriodStatus,
    parse_period,
)
from asap_sync.service.admin_contracts import (
    NewContract,
    add_contract_in,
    check_contract_fits,
    check_end,
    contract_fields,
    end_contract_in,
    existing_contract,
    validate_contract,
)
from asap_sync.service.admin_ports import AdminError, AdminSessions
from asap_sync.service.approval_ports import (
    APPROVED,
    PENDING,
    REJECTED,
    STATUSES,
    TWO_PERSON_APPROVAL,
    WITHDRAWN,
    ApprovalRepository,
    ApprovalUnit,
    Proposal,
)
from asap_sync.service.journal import Actor
from asap_sync.service.operator_ports import Role
from asap_sync.service.settlement import (
    DONE,
    CloseReport,
    UowFactory,
    check_can_close,
    close_period,
)
from asap_sync.service.settlement_ports import SettlementUnitOfWork

CONTRACT_ADD = "contract.add"
CONTRACT_END = "contract.end"
PERIOD_CLOSE = "period.close"
NEEDED_ROLE = {CONTRACT_ADD: Role.ADMIN, CONTRACT_END: Role.ADMIN, PERIOD_CLOSE: Role.FINANCE}
MAX_REASON_LENGTH = 1000


class ApprovalError(AdminError):
    """A proposal that cannot be decided as asked; the message says why."""


# -- the setting --------------------------------------------------------------------------


def required_in(repo: ApprovalRepository) -> bool:
    """True when two-person approval is on (read in the caller's transaction)."""
    return repo.setting(TWO_PERSON_APPROVAL) == "on"


def approval_required(sessions: AdminSessions) -> bool:
    """True when contract changes and period closes need a second operator's approval."""
    with sessions(read_only=True) as uow:
        return required_in(uow.approvals)


def set_approval_required(sessions: AdminSessions, on: bool, *, actor: Actor, role: Role) -> bool:
    """Turn two-person approval on or off (an admin only); logged. Returns the new value."""
    _check_signed_in(actor, "change it")
    if not role.allows(Role.ADMIN):
        raise ApprovalError("only an admin may turn two-person approval on or off")
    with sessions.acting(actor)() as uow:
        before = required_in(uow.approvals)
        if before != on:
            uow.approvals.set_setting(TWO_PERSON_APPROVAL, _on_off(on), actor=actor)
            uow.note(
                "setting.two-person-approval",
                TWO_PERSON_APPROVAL,
                before={"value": _on_off(before)},
                after={"value": _on_off(on)},
            )
            uow.commit()
    return on


def _on_off(on: bool) -> str:
    return "on" if on else "off"


# -- acting or proposing ------------------------------------------------------------------


def add_contract_or_propose(
    sessions: AdminSessions, new: NewContract, *, actor: Actor, role: Role
) -> Contract | Proposal:
    """Add the contract now, or propose it when two-person approval is on.

    A proposal gets the same checks at once (ids, rules, no overlap) so a mistake is found
    before anybody is asked to approve it; approving runs them again.
    """
    _check_role(CONTRACT_ADD, role)
    contract = validate_contract(new)
    with sessions.acting(actor)() as uow:
        if required_in(uow.approvals):
            check_contract_fits(uow.admin, contract)
            done: Contract | Proposal = _propose(
                uow, CONTRACT_ADD, contract.contract_id, contract_payload(new), actor
            )
        else:
            add_contract_in(uow, contract, now=actor.at)
            done = contract
        uow.commit()
    return done


def end_contract_or_propose(
    sessions: AdminSessions,
    contract_id: str,
    *,
    at: datetime | None,
    actor: Actor,
    role: Role,
) -> Contract | Proposal:
    """End the contract now, or propose it when two-person approval is on.

    ``at`` None means "when it takes effect": now, or the moment of the approval.
    """
    _check_role(CONTRACT_END, role)
    with sessions.acting(actor)() as uow:
        if not required_in(uow.approvals):
            ended = end_contract_in(uow, contract_id, at=actor.at if at is None else at)
            uow.commit()
            return ended
        check_end(existing_contract(uow.admin, contract_id), actor.at if at is None else at)
        payload = {"contractId": contract_id, "at": None if at is None else at.isoformat()}
        proposal = _propose(uow, CONTRACT_END, contract_id, payload, actor)
        uow.commit()
    return proposal


def close_or_propose(
    units: UowFactory,
    *,
    period: str,
    zone: tzinfo,
    allow_open_month: bool,
    actor: Actor,
    role: Role,
) -> CloseReport | Proposal:
    """Close the period now, or propose closing it when two-person approval is on.

    ``units`` log their changes under ``actor``.
    """
    _check_role(PERIOD_CLOSE, role)
    parse_period(period)
    with units() as su:
        if required_in(su.approvals):
            _check_closable(su, period, actor.at, zone, allow_open_month)
            payload = {"period": period, "allowOpenMonth": allow_open_month}
            proposal = _propose(su, PERIOD_CLOSE, period, payload, actor)
            su.commit()
            return proposal

    def still_direct(su: SettlementUnitOfWork, _status: PeriodStatus) -> None:
        if required_in(su.approvals):
            raise ApprovalError("two-person approval was just turned on: run it again to propose")

    return close_period(
        units,
        period=period,
        now=actor.at,
        zone=zone,
        allow_open_month=allow_open_month,
        guard=still_direct,
    )


def _check_closable(
    su: SettlementUnitOfWork, period: str, now: datetime, zone: tzinfo, allow_open_month: bool
) -> None:
    status = su.settlement.period_status(period)
    if status in DONE:
        raise ApprovalError(f"period {period} is already {status.value}")
    check_can_close(su.settlement, period, now, zone, allow_open_month)


def _propose(
    uow: ApprovalUnit, action: str, subject: str, payload: dict[str, Any], actor: Actor
) -> Proposal:
    _check_signed_in(actor, "propose")
    repo = uow.approvals
    proposal_id = repo.add_proposal(action, subject, payload, actor=actor)
    uow.note(
        "proposal.add",
        f"proposal {proposal_id}",
        after={"action": action, "subject": subject, "payload": payload, "status": PENDING},
    )
    found = repo.proposal(proposal_id)
    assert found is not None
    return found


# -- deciding -----------------------------------------------------------------------------


def approve(
    sessions: AdminSessions,
    units: UowFactory,
    proposal_id: int,
    *,
    actor: Actor,
    role: Role,
    zone: tzinfo,
) -> Proposal:
    """Apply a pending proposal as another operator with the needed role.

    The checks of the direct action run again: state may have changed since the proposal.
    """
    proposal = find_proposal(sessions, proposal_id)
    _check_decider(proposal, actor, role, "approve")
    if proposal.action == PERIOD_CLOSE:
        _approve_close(units, proposal, actor=actor, role=role, zone=zone)
    else:
        with sessions.acting(actor)() as uow:
            locked = _locked(uow.approvals, proposal_id)
            _check_decider(locked, actor, role, "approve")
            if locked.action == CONTRACT_ADD:
                new = validate_contract(new_contract(locked.payload))
                add_contract_in(uow, new, now=actor.at)
            else:
                at = locked.payload.get("at")
                moment = actor.at if at is None else datetime.fromisoformat(at)
                end_contract_in(uow, str(locked.payload["contractId"]), at=moment)
            _decide(uow, locked, APPROVED, actor, None)
            uow.commit()
    return find_proposal(sessions, proposal_id)


def _approve_close(
    units: UowFactory, proposal: Proposal, *, actor: Actor, role: Role, zone: tzinfo
) -> None:
    period = str(proposal.payload["period"])

    def decided(su: SettlementUnitOfWork, status: PeriodStatus) -> None:
        locked = _locked(su.approvals, proposal.proposal_id)
        _check_decider(locked, actor, role, "approve")
        if status in DONE:
            raise ApprovalError(
                f"period {period} is already {status.value}: reject proposal {proposal.proposal_id}"
            )
        _decide(su, locked, APPROVED, actor, None)

    close_period(
        units,
        period=period,
        now=actor.at,
        zone=zone,
        allow_open_month=bool(proposal.payload.get("allowOpenMonth", False)),
        guard=decided,
    )


def reject(
    sessions: AdminSessions,
    proposal_id: int,
    *,
    actor: Actor,
    role: Role,
    reason: str = "",
) -> Proposal:
    """Refuse a pending proposal (another operator with the needed role); nothing changes."""
    if len(reason) > MAX_REASON_LENGTH:
        raise ApprovalError(f"the reason is longer than {MAX_REASON_LENGTH} characters")
    with sessions.acting(actor)() as uow:
        locked = _locked(uow.approvals, proposal_id)
        _check_decider(locked, actor, role, "reject")
        _decide(uow, locked, REJECTED, actor, reason or None)
        uow.commit()
    return find_proposal(sessions, proposal_id)


def withdraw(sessions: AdminSessions, proposal_id: int, *, actor: Actor) -> Proposal:
    """Take back one's own pending proposal; nothing changes."""
    _check_signed_in(actor, "withdraw")
    with sessions.acting(actor)() as uow:
        locked = _locked(uow.approvals, proposal_id)
        _check_pending(locked)
        if locked.proposed_by != actor.name:
            raise ApprovalError(
                f"proposal {proposal_id} is {locked.proposed_by}'s: only they may withdraw it"
            )
        _decide(uow, locked, WITHDRAWN, actor, None)
        uow.commit()
    return find_proposal(sessions, proposal_id)


def _locked(repo: ApprovalRepository, proposal_id: int) -> Proposal:
    found = repo.proposal(proposal_id, for_update=True)
    if found is None:
        raise ApprovalError(f"unknown proposal {proposal_id}")
    return found


def _check_pending(proposal: Proposal) -> None:
    if proposal.status != PENDING:
        raise ApprovalError(
            f"proposal {proposal.proposal_id} is already {proposal.status} "
            f"(by {proposal.decided_by})"
        )


def _check_signed_in(actor: Actor, verb: str) -> None:
    """Only operator accounts propose and decide, so one person has one name everywhere."""
    if not actor.signed_in:
        raise ApprovalError(
            f"to {verb} under two-person approval, name your operator account with --as NAME "
            "(its password from stdin with --password-stdin, or at the prompt)"
        )


def _check_decider(proposal: Proposal, actor: Actor, role: Role, verb: str) -> None:
    _check_signed_in(actor, verb)
    _check_pending(proposal)
    if proposal.proposed_by == actor.name:
        raise ApprovalError(
            f"you proposed {proposal.proposal_id}: another operator must {verb} it "
            "(you may withdraw it)"
        )
    _check_role(proposal.action, role, verb)


def _check_role(action: str, role: Role, verb: str = "make") -> None:
    needed = NEEDED_ROLE[action]
    if not role.allows(needed):
        raise ApprovalError(f"to {verb} a {action} needs the {needed.value} role")


def _decide(
    uow: ApprovalUnit, proposal: Proposal, status: str, actor: Actor, note: str | None
) -> None:
    uow.approvals.decide(proposal.proposal_id, status, actor=actor, note=note)
    uow.note(
        f"proposal.{_VERBS[status]}",
        f"proposal {proposal.proposal_id}",
        before={"status": PENDING},
        after={
            "status": status,
            "action": proposal.action,
            "subject": proposal.subject,
            "proposedBy": proposal.proposed_by,
            **({"reason": note} if note else {}),
        },
    )


_VERBS = {APPROVED: "approve", REJECTED: "reject", WITHDRAWN: "withdraw"}


# -- reading ------------------------------------------------------------------------------


def find_proposal(sessions: AdminSessions, proposal_id: int) -> Proposal:
    """One proposal, or the operator's error."""
    with sessions(read_only=True) as uow:
        found = uow.approvals.proposal(proposal_id)
    if found is None:
        raise ApprovalError(f"unknown proposal {proposal_id}")
    return found


def list_proposals(
    sessions: AdminSessions, *, status: str | None = None, limit: int = 50
) -> Sequence[Proposal]:
    """Proposals, newest first, of one status or all."""
    if status is not None and status not in STATUSES:
        raise ApprovalError(f"unknown status {status!r}: one of {', '.join(STATUSES)}")
    if limit < 1:
        raise ApprovalError(f"limit must be 1 or more, not {limit}")
    with sessions(read_only=True) as uow:
        return uow.approvals.proposals(status=status, limit=limit)


# -- a proposed contract as JSON ----------------------------------------------------------


def contract_payload(new: NewContract) -> dict[str, Any]:
    """A new contract as a proposal keeps it."""
    return {
        "contractId": new.contract_id,
        **contract_fields(new),
        "goodsWindowDays": new.goods_window_days,
        "amountThresholdMinor": new.amount_threshold_minor,
    }


def new_contract(payload: dict[str, Any]) -> NewContract:
    """The contract :func:`contract_payload` kept."""
    valid_to = payload["validTo"]
    kinds: dict[str, RuleKind] = {"rate": "rate", "fixed": "fixed"}
    return NewContract(
        contract_id=str(payload["contractId"]),
        merchant_id=str(payload["merchantId"]),
        valid_from=datetime.fromisoformat(payload["validFrom"]),
        valid_to=None if valid_to is None else datetime.fromisoformat(valid_to),
        rules={
            code: Rule(kind=kinds[rule["kind"]], value=int(rule["value"]))
            for code, rule in payload["rules"].items()
        },
        default_rate_bp=int(payload["defaultRateBp"]),
        goods_window_days=payload["goodsWindowDays"],
        amount_threshold_minor=payload["amountThresholdMinor"],
    )
