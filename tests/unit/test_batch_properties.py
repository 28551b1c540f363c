"""Property: deciding a history in batches of any size decides exactly what deciding it one sync
at a time, in the same order, does: the same answers and the same ledger."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from asap_sync.domain.errors import RuleViolation
from asap_sync.service.decide import PendingSync
from asap_sync.service.ingest import Ingestor
from tests.fakes import FakeLedger
from tests.kit import sync_body
from tests.unit.test_ingest import ingestor, pending


def goods(*prices: int) -> dict[str, Any]:
    codes = ("RENEWAL", "NEW_CONTRACT")
    return {
        "goodsInfoList": [
            {"goodsCode": codes[n % 2], "goodsPrice": {"currency": "HKD", "value": str(p)}}
            for n, p in enumerate(prices)
        ]
    }


def pay(n: int, request: int, amount: int | None, prices: list[int], version: int) -> PendingSync:
    trade = None if amount is None else {"currency": "HKD", "value": str(amount)}
    body = sync_body(
        requestId=f"q{request}",
        outTransId=f"T{n}",
        tradeAmt=trade,
        extendInfo=goods(*prices) if prices else None,
    )
    if amount is None and not prices:
        body["tradeAmt"] = {"currency": "HKD", "value": "1000"}
    return pending(body, version=version)


def refund(n: int, origin: int, request: int, amount: int | None, version: int) -> PendingSync:
    trade = None if amount is None else {"currency": "HKD", "value": str(amount)}
    body = sync_body(
        requestId=f"q{request}",
        outTransId=f"R{n}",
        transDirection="refund",
        originTransId=f"T{origin}",
        extendInfo=None,
        tradeAmt=trade,
    )
    return pending(body, version=version)


# Few keys, so that replays, re-sends, twins, goods updates and refunds of one origin meet.
requests = st.integers(0, 8)
version = st.sampled_from([1, 1, 1, 1, 0])  # now and then verified before a directory change
syncs = st.one_of(
    st.builds(
        pay,
        st.integers(0, 3),
        requests,
        st.none() | st.integers(0, 30_000),
        st.lists(st.integers(0, 20_000), max_size=3),
        version,
    ),
    st.builds(
        refund,
        st.integers(0, 3),
        st.integers(0, 3),
        requests,
        st.none() | st.integers(0, 20_000),
        version,
    ),
)


def outcome(answer: Any) -> Any:
    if isinstance(answer, RuleViolation):
        return (answer.code, answer.context)
    return answer


def run(history: list[PendingSync], batch: int) -> tuple[list[Any], dict[str, Any]]:
    ledger = FakeLedger()
    service: Ingestor = ingestor(ledger, max_batch=batch)
    if batch == 1:
        answers = [service.submit_all([sync])[0] for sync in history]
    else:
        answers = service.submit_all(history)
    return [outcome(a) for a in answers], ledger.dump()


@settings(max_examples=150, deadline=None)
@given(st.lists(syncs, min_size=1, max_size=24), st.integers(2, 24))
def test_batches_of_any_size_decide_what_one_at_a_time_decides(
    history: list[PendingSync], batch: int
) -> None:
    assert run(history, batch) == run(history, 1)
