"""Failure budgets per source and per claimed Client-Id, and the counted rejection log."""

from __future__ import annotations

from datetime import UTC, datetime

from asap_sync.http.refusals import RefusalLimits, Refusals
from asap_sync.service.ports import Rejection

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def rejection(client_id: str | None = "c", code: str = "INVALID_SIGNATURE") -> Rejection:
    return Rejection(
        received_at=NOW, code=code, context="signature does not verify", client_id=client_id
    )


def refusals(written: list[list[Rejection]], clock: list[float], **limits: float) -> Refusals:
    options = {"per_source": 1.0, "per_client_id": 0.0, "burst": 3.0, "keep_first": 2}
    return Refusals(RefusalLimits(**{**options, **limits}), written.append, clock=lambda: clock[0])  # type: ignore[arg-type]


def test_a_source_is_over_budget_after_its_burst_and_served_again_once_it_refilled() -> None:
    clock = [0.0]
    budget = refusals([], clock)
    for _ in range(3):
        assert not budget.over_budget("10.0.0.1", "c")
        budget.failed("10.0.0.1", rejection())
    assert budget.over_budget("10.0.0.1", "c")
    assert not budget.over_budget("10.0.0.2", "c")
    clock[0] = 1.0
    assert not budget.over_budget("10.0.0.1", "c")


def test_a_claimed_client_id_has_a_budget_of_its_own_across_sources() -> None:
    budget = refusals([], [0.0], per_source=0.0, per_client_id=1.0)
    for n in range(3):
        budget.failed(f"10.0.0.{n}", rejection("victim"))
    assert budget.over_budget("10.0.0.9", "victim")
    assert not budget.over_budget("10.0.0.9", "other")


def test_the_first_rejections_are_kept_whole_and_the_rest_counted_per_code_and_source() -> None:
    written: list[list[Rejection]] = []
    budget = refusals(written, [0.0], per_source=0.0)
    for _ in range(10):
        budget.failed("10.0.0.1", rejection())
    budget.failed("10.0.0.2", rejection(code="INVALID_CLIENT"))
    assert [[r.context for r in rows] for rows in written] == [["signature does not verify"]] * 2
    budget.flush()
    rows = written[2]
    assert [r.context.split(" (")[0] for r in rows] == [
        "8 more like this from 10.0.0.1 within 0 s",
        "1 more like this from 10.0.0.2 within 0 s",
    ]
