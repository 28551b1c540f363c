"""Two-person approval, on real storage (SQLite, then PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from asap_sync.domain.model import Rule
from asap_sync.domain.settlement import PeriodStatus
from asap_sync.service import admin, approvals
from asap_sync.service.approval_ports import APPROVED, PENDING, REJECTED, WITHDRAWN, Proposal
from asap_sync.service.approvals import ApprovalError
from asap_sync.service.journal import Actor
from asap_sync.service.operator_ports import ChangeFilter, Role
from asap_sync.service.operators import list_changes
from asap_sync.storage.admin import SqlAdminSessions
from asap_sync.storage.operators import SqlOperatorSessions
from asap_sync.storage.settlement import SqlSettlementUnitOfWork
from tests.settlement.kit import T0, ZONE, Ledger, register

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
ALICE = Actor(name="alice", source="console", at=NOW)
BOB = Actor(name="bob", source="cli", at=NOW)
CAROL = Actor(name="carol", source="console", at=NOW)
ROOT = Actor(name="root", source="console", at=NOW)
OS_USER = Actor(name="cli:alice", source="cli", at=NOW, signed_in=False)


def contract(contract_id: str = "C-1", start: int = 1) -> admin.NewContract:
    return admin.NewContract(
        contract_id=contract_id,
        merchant_id="M-1",
        valid_from=datetime(2025, start, 1, tzinfo=UTC),
        rules={"RENEWAL": Rule(kind="rate", value=150)},
    )


@pytest.fixture
def sessions(engine: Engine) -> SqlAdminSessions:
    approvals.set_approval_required(SqlAdminSessions(engine), True, actor=ROOT, role=Role.ADMIN)
    return SqlAdminSessions(engine)


def actions(engine: Engine) -> list[tuple[str, str, str]]:
    changes = list_changes(SqlOperatorSessions(engine), ChangeFilter())
    return [(c.change.action, c.change.subject, c.change.actor) for c in reversed(changes)]


def approve(engine: Engine, proposal: Proposal, actor: Actor, role: Role) -> Proposal:
    """Approve as ``actor``, whose settlement units log under them."""
    return approvals.approve(
        SqlAdminSessions(engine),
        lambda: SqlSettlementUnitOfWork(engine, actor=actor),
        proposal.proposal_id,
        actor=actor,
        role=role,
        zone=ZONE,
    )


def propose_contract(sessions: SqlAdminSessions) -> Proposal:
    proposal = approvals.add_contract_or_propose(sessions, contract(), actor=ALICE, role=Role.ADMIN)
    assert isinstance(proposal, Proposal)
    return proposal


def test_off_by_default_a_contract_is_added_at_once(engine: Engine) -> None:
    sessions = SqlAdminSessions(engine)
    assert not approvals.approval_required(sessions)
    added = approvals.add_contract_or_propose(sessions, contract(), actor=ALICE, role=Role.ADMIN)
    assert not isinstance(added, Proposal)
    assert [c.contract_id for c in admin.list_contracts(sessions)] == ["C-1"]


def test_a_proposed_contract_takes_effect_only_when_another_admin_approves(
    engine: Engine, sessions: SqlAdminSessions
) -> None:
    proposal = propose_contract(sessions)
    assert proposal.status == PENDING and proposal.proposed_by == "alice"
    assert admin.list_contracts(sessions) == []
    with pytest.raises(ApprovalError, match="you proposed"):
        approve(engine, proposal, ALICE, Role.ADMIN)
    with pytest.raises(ApprovalError, match="needs the admin role"):
        approve(engine, proposal, BOB, Role.FINANCE)
    assert admin.list_contracts(sessions) == []
    decided = approve(engine, proposal, CAROL, Role.ADMIN)
    assert (decided.status, decided.decided_by) == (APPROVED, "carol")
    assert [c.contract_id for c in admin.list_contracts(sessions)] == ["C-1"]
    assert actions(engine)[1:] == [
        ("proposal.add", "proposal 1", "alice"),
        ("contract.add", "C-1", "carol"),
        ("proposal.approve", "proposal 1", "carol"),
    ]
    with pytest.raises(ApprovalError, match="already approved"):
        approvals.reject(sessions, proposal.proposal_id, actor=ROOT, role=Role.ADMIN)


def test_approving_runs_the_checks_again_and_a_failed_check_changes_nothing(
    engine: Engine, sessions: SqlAdminSessions
) -> None:
    proposal = propose_contract(sessions)
    approvals.set_approval_required(sessions, False, actor=ROOT, role=Role.ADMIN)
    # meanwhile, an overlapping contract of the same merchant is added directly
    approvals.add_contract_or_propose(sessions, contract("C-2", 2), actor=ROOT, role=Role.ADMIN)
    with pytest.raises(admin.AdminError, match="overlap"):
        approve(engine, proposal, CAROL, Role.ADMIN)
    assert approvals.find_proposal(sessions, proposal.proposal_id).status == PENDING
    assert [c.contract_id for c in admin.list_contracts(sessions)] == ["C-2"]


def test_a_proposal_can_be_rejected_by_another_or_withdrawn_by_its_proposer(
    engine: Engine, sessions: SqlAdminSessions
) -> None:
    first, second = propose_contract(sessions), None
    with pytest.raises(ApprovalError, match="another operator must reject"):
        approvals.reject(sessions, first.proposal_id, actor=ALICE, role=Role.ADMIN)
    rejected = approvals.reject(
        sessions, first.proposal_id, actor=CAROL, role=Role.ADMIN, reason="wrong rate"
    )
    assert (rejected.status, rejected.note) == (REJECTED, "wrong rate")
    second = propose_contract(sessions)
    with pytest.raises(ApprovalError, match="only they may withdraw"):
        approvals.withdraw(sessions, second.proposal_id, actor=CAROL)
    assert approvals.withdraw(sessions, second.proposal_id, actor=ALICE).status == WITHDRAWN
    assert admin.list_contracts(sessions) == []
    pending = approvals.list_proposals(sessions, status=PENDING)
    assert pending == []
    assert len(approvals.list_proposals(sessions)) == 2


def test_the_os_user_of_the_cli_cannot_propose_or_decide(sessions: SqlAdminSessions) -> None:
    with pytest.raises(ApprovalError, match="--as NAME"):
        approvals.add_contract_or_propose(sessions, contract(), actor=OS_USER, role=Role.ADMIN)
    proposal = propose_contract(sessions)
    with pytest.raises(ApprovalError, match="--as NAME"):
        approvals.reject(sessions, proposal.proposal_id, actor=OS_USER, role=Role.ADMIN)


def test_only_an_admin_changes_the_setting_and_the_change_is_logged(engine: Engine) -> None:
    sessions = SqlAdminSessions(engine)
    with pytest.raises(ApprovalError, match="only an admin"):
        approvals.set_approval_required(sessions, True, actor=BOB, role=Role.FINANCE)
    assert approvals.set_approval_required(sessions, True, actor=ROOT, role=Role.ADMIN)
    assert approvals.approval_required(sessions)
    [logged] = list_changes(SqlOperatorSessions(engine), ChangeFilter())
    assert logged.change.action == "setting.two-person-approval"
    assert (logged.change.before, logged.change.after) == ({"value": "off"}, {"value": "on"})


def test_ending_a_contract_is_proposed_then_approved_at_the_moment_of_approval(
    engine: Engine,
) -> None:
    sessions = SqlAdminSessions(engine)
    approvals.add_contract_or_propose(sessions, contract(), actor=ROOT, role=Role.ADMIN)
    approvals.set_approval_required(sessions, True, actor=ROOT, role=Role.ADMIN)
    proposal = approvals.end_contract_or_propose(
        sessions, "C-1", at=None, actor=ALICE, role=Role.ADMIN
    )
    assert isinstance(proposal, Proposal)
    assert admin.list_contracts(sessions)[0].valid_to is None
    later = Actor(name="carol", source="console", at=NOW + timedelta(days=2))
    approve(engine, proposal, later, Role.ADMIN)
    assert admin.list_contracts(sessions)[0].valid_to == later.at


def test_a_period_close_is_proposed_by_finance_and_approved_by_another(engine: Engine) -> None:
    register(engine, ["M1"])
    ledger = Ledger(engine)
    ledger.pay("M1", "P1", 10_000)
    ledger.now = T0 + timedelta(days=30)
    sessions = SqlAdminSessions(engine)
    approvals.set_approval_required(sessions, True, actor=ROOT, role=Role.ADMIN)
    alice = Actor(name="alice", source="cli", at=ledger.now)
    bob = Actor(name="bob", source="console", at=ledger.now)

    def units(actor: Actor) -> approvals.Units:
        return lambda: SqlSettlementUnitOfWork(engine, actor=actor)

    proposal = approvals.close_or_propose(
        units(alice),
        period="2026-01",
        zone=ZONE,
        allow_open_month=False,
        actor=alice,
        role=Role.FINANCE,
    )
    assert isinstance(proposal, Proposal)
    with SqlSettlementUnitOfWork(engine, read_only=True) as uow:
        assert uow.settlement.period_status("2026-01") is PeriodStatus.OPEN
    with pytest.raises(ApprovalError, match="needs the finance role"):
        approve(engine, proposal, bob, Role.VIEWER)
    approve(engine, proposal, bob, Role.FINANCE)
    with SqlSettlementUnitOfWork(engine, read_only=True) as uow:
        assert uow.settlement.period_status("2026-01") is PeriodStatus.CLOSED
    assert [a for a in actions(engine) if a[0] != "setting.two-person-approval"] == [
        ("proposal.add", "proposal 1", "alice"),
        ("proposal.approve", "proposal 1", "bob"),
        ("period.close", "2026-01", "bob"),
    ]
    with pytest.raises(ApprovalError, match="already CLOSED"):
        approvals.close_or_propose(
            units(alice),
            period="2026-01",
            zone=ZONE,
            allow_open_month=False,
            actor=alice,
            role=Role.FINANCE,
        )
