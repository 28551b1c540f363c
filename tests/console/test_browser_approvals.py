"""Two-person approval in a real browser: an admin turns it on, a finance operator proposes a
close, cannot approve it, a viewer cannot either, another finance operator approves it.

A server of its own (the module fixtures of test_browser, instantiated again here), so the
setting does not change what the other browser tests see.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from asap_sync.domain.settlement import PeriodStatus
from asap_sync.service.journal import Actor
from asap_sync.service.operator_ports import ChangeFilter, Role
from asap_sync.service.operators import add_operator, list_changes
from asap_sync.storage.operators import SqlOperatorSessions
from asap_sync.storage.settlement import SqlSettlementUnitOfWork
from tests.console import test_browser
from tests.console.conftest import PASSWORD
from tests.console.test_browser import Server

# The module fixtures of test_browser, instantiated again for this module's own server.
pytestmark = test_browser.pytestmark
live = test_browser.live
browser = test_browser.browser
page_for = test_browser.page_for

FORGED_APPROVE = """async (id) => {
    const token = JSON.parse(document.body.getAttribute('hx-headers'))['X-CSRF-Token'];
    const answer = await fetch(`/console/approvals/${id}/approve`, {method: 'POST',
        headers: {'Content-Type': 'application/x-www-form-urlencoded', 'X-CSRF-Token': token},
        body: 'x=1', redirect: 'manual'});
    return answer.status;
}"""


@pytest.fixture(scope="module")
def fay(live: tuple[str, Server]) -> Iterator[str]:
    """A second finance operator."""
    _base, server = live
    actor = Actor(name="cli:test", source="cli", at=server.ledger.now)
    sessions = SqlOperatorSessions(server.engine)
    add_operator(sessions, "fay", role=Role.FINANCE, password=PASSWORD, salt=b"f" * 16, actor=actor)
    yield "fay"


def _status(engine: Engine, period: str) -> PeriodStatus:
    with SqlSettlementUnitOfWork(engine, read_only=True) as uow:
        return uow.settlement.period_status(period)


def test_a_close_takes_effect_only_when_another_finance_operator_approves(
    page_for: object, live: tuple[str, Server], fay: str
) -> None:
    _base, server = live
    admin = page_for("ada")  # type: ignore[operator]
    admin.goto("/console/approvals")
    admin.get_by_role("button", name="Turn two-person approval on").click()
    admin.wait_for_load_state()
    assert "Two-person approval is on" in admin.get_by_role("status").inner_text()

    proposer = page_for("fin")  # type: ignore[operator]
    proposer.goto("/console/periods/2026-01/preview")
    assert "this proposes the close" in proposer.locator("#approval-note").inner_text()
    proposer.get_by_role("button", name="Close 2026-01 now").click()
    proposer.wait_for_load_state()
    assert "Proposed, awaiting approval" in proposer.get_by_role("status").inner_text()
    assert _status(server.engine, "2026-01") is PeriodStatus.OPEN
    proposer.goto("/console/periods")
    assert "close proposed, awaiting approval" in proposer.locator("main").inner_text()

    proposer.goto("/console/approvals")
    pending = proposer.locator("#pending")
    assert pending.get_by_role("button", name="Approve 1").count() == 0
    assert "Yours: another operator must approve it." in pending.inner_text()
    assert proposer.evaluate(FORGED_APPROVE, 1) in (0, 303)  # refused, sent back with an error
    proposer.goto("/console/approvals")
    assert proposer.locator("#pending").get_by_role("button", name="Withdraw 1").count() == 1
    assert _status(server.engine, "2026-01") is PeriodStatus.OPEN

    viewer = page_for("vic")  # type: ignore[operator]
    viewer.goto("/console/approvals")
    assert viewer.get_by_role("button", name="Approve 1").count() == 0
    assert viewer.evaluate(FORGED_APPROVE, 1) == 403
    assert _status(server.engine, "2026-01") is PeriodStatus.OPEN

    approver = page_for(fay)  # type: ignore[operator]
    approver.goto("/console/approvals")
    approver.get_by_role("button", name="Approve 1").click()
    approver.wait_for_load_state()
    assert "is approved" in approver.get_by_role("status").inner_text()
    assert _status(server.engine, "2026-01") is PeriodStatus.CLOSED
    assert "fay" in approver.locator("#decided").inner_text()
    logged = [
        (c.change.action, c.change.actor)
        for c in list_changes(SqlOperatorSessions(server.engine), ChangeFilter(limit=5))
    ]
    assert logged[:3] == [
        ("period.close", "fay"),
        ("proposal.approve", "fay"),
        ("proposal.add", "fin"),
    ]
    for page in (admin, proposer, approver):  # the viewer saw its forged POST refused (403)
        assert page.errors == [], page.url  # type: ignore[attr-defined]
