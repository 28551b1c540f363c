"""Console pages of two-person approval: proposals (pending, decided), decisions, the setting.

The console's operator is always a signed-in account, so a proposer has the same name here and
in the CLI (``--as NAME``) and cannot approve their own proposal by switching between them.
"""

from __future__ import annotations

from starlette.responses import Response

from asap_sync.console.web import Ask, back
from asap_sync.service import approvals
from asap_sync.service.approval_ports import PENDING, Proposal
from asap_sync.service.operator_ports import Role
from asap_sync.storage.settlement import SqlSettlementUnitOfWork

DECIDED_SHOWN = 50
PENDING_SHOWN = 500


def approvals_page(ask: Ask) -> Response:
    """Pending proposals with their buttons, then the latest decided ones."""
    admin = ask.admin()
    found = approvals.list_proposals(admin, limit=DECIDED_SHOWN + 200)
    return ask.render(
        "approvals.html",
        pending=approvals.list_proposals(admin, status=PENDING, limit=PENDING_SHOWN),
        decided=[p for p in found if p.status != PENDING][:DECIDED_SHOWN],
        required=approvals.approval_required(ask.admin()),
        needed=approvals.NEEDED_ROLE,
    )


def approve_action(ask: Ask) -> Response:
    """Approve another operator's proposal: the direct action's checks, then the change."""
    actor = ask.actor()
    engine = ask.console.engine
    decided = approvals.approve(
        ask.admin(),
        lambda: SqlSettlementUnitOfWork(engine, actor=actor),
        _proposal_id(ask),
        actor=actor,
        role=ask.operator.role,
        zone=ask.console.zone,
    )
    return back("/console/approvals", notice=_notice(decided))


def reject_action(ask: Ask) -> Response:
    """Reject another operator's proposal."""
    decided = approvals.reject(
        ask.admin(),
        _proposal_id(ask),
        actor=ask.actor(),
        role=ask.operator.role,
        reason=ask.field("reason"),
    )
    return back("/console/approvals", notice=_notice(decided))


def withdraw_action(ask: Ask) -> Response:
    """Withdraw one's own proposal."""
    decided = approvals.withdraw(ask.admin(), _proposal_id(ask), actor=ask.actor())
    return back("/console/approvals", notice=_notice(decided))


def setting_action(ask: Ask) -> Response:
    """Turn two-person approval on or off (admin)."""
    on = approvals.set_approval_required(
        ask.admin(), ask.field("required") == "on", actor=ask.actor(), role=ask.operator.role
    )
    state = "on" if on else "off"
    return back("/console/approvals", notice=f"Two-person approval is {state}.")


def proposed_notice(proposal: Proposal) -> str:
    """What a page says when its action became a proposal."""
    return (
        f"Proposed, awaiting approval: proposal {proposal.proposal_id} "
        f"({proposal.action} {proposal.subject}). Another operator approves it on Approvals."
    )


def pending_by_action(ask: Ask) -> dict[str, dict[str, Proposal]]:
    """Pending proposals by action, then by subject (one read), for the pages that show them."""
    found: dict[str, dict[str, Proposal]] = {}
    for p in reversed(approvals.list_proposals(ask.admin(), status=PENDING, limit=PENDING_SHOWN)):
        found.setdefault(p.action, {})[p.subject] = p
    return found


def _proposal_id(ask: Ask) -> int:
    return int(ask.request.path_params["proposal_id"])


def _notice(proposal: Proposal) -> str:
    what = f"{proposal.action} {proposal.subject}"
    return f"Proposal {proposal.proposal_id} ({what}) is {proposal.status}."


PAGES = [
    ("/approvals", approvals_page, Role.VIEWER, ["GET"]),
    ("/approvals/{proposal_id:int}/approve", approve_action, Role.FINANCE, ["POST"]),
    ("/approvals/{proposal_id:int}/reject", reject_action, Role.FINANCE, ["POST"]),
    ("/approvals/{proposal_id:int}/withdraw", withdraw_action, Role.FINANCE, ["POST"]),
    ("/approvals/setting", setting_action, Role.ADMIN, ["POST"]),
]
