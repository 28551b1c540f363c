"""The ingestion service on the in-memory ledger: batches, deferrals, preconditions, failures."""

from __future__ import annotations

import asyncio
import contextvars
import gc
import threading
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from asap_sync.domain.errors import IdempotencyConflict, RefundExceedsOrigin
from asap_sync.domain.model import Contract, Rule
from asap_sync.service.decide import AcceptPolicy, Outcome, Pending, PendingSync
from asap_sync.service.ingest import IDLE_CHECK_SECONDS, Contended, InFlight, Ingestor
from asap_sync.service.ports import SignedRequest, WritePlan
from asap_sync.service.sync_command import to_command
from asap_sync.wire import ENDPOINT_PATH
from asap_sync.wire.messages import parse_sync_body
from tests.fakes import FakeContracts, FakeLedger
from tests.kit import CLIENT_ID, MERCHANT_ID, T0, encode, sync_body

NOW = datetime(2025, 4, 20, 2, 0, tzinfo=UTC)
CONTRACT = Contract(
    contract_id="CPS-2025",
    merchant_id=MERCHANT_ID,
    valid_from=T0,
    valid_to=None,
    rules={"RENEWAL": Rule(kind="rate", value=150), "NEW_CONTRACT": Rule(kind="fixed", value=5000)},
    default_rate_bp=100,
)
REFUND = {"transDirection": "refund", "originTransId": "T-1", "extendInfo": None}


def pending(body: dict[str, Any], *, version: int | None = 1) -> PendingSync:
    """A sync past the gateway, as the externalInfoSync handler makes it."""
    raw = encode(body)
    request = SignedRequest(
        client_id=CLIENT_ID,
        key_version=1,
        method="POST",
        path=ENDPOINT_PATH,
        request_time=NOW.isoformat(),
        signature="algorithm=RSA256, keyVersion=1, signature=x",
        headers={},
        body=raw,
        received_at=NOW,
    )
    command = to_command(parse_sync_body(raw), CLIENT_ID)
    return PendingSync(command=command, request=request, now=NOW, directory_version=version)


def ingestor(
    ledger: FakeLedger,
    *,
    max_batch: int = 64,
    in_flight: InFlight | None = None,
    batch_wait: float = 0.002,
) -> Ingestor:
    ledger.links.add((CLIENT_ID, MERCHANT_ID))
    contracts = FakeContracts(ledger, {(CLIENT_ID, MERCHANT_ID): [CONTRACT]})
    return Ingestor(
        ledger=ledger,
        directory=contracts,
        policy=AcceptPolicy(),
        max_batch=max_batch,
        in_flight=in_flight,
        batch_wait=batch_wait,
    )


def refund(n: int, amount: int | None) -> dict[str, Any]:
    trade = None if amount is None else {"currency": "HKD", "value": str(amount)}
    return sync_body(requestId=f"R-{n}", outTransId=f"R-{n}", tradeAmt=trade, **REFUND)


def test_a_new_pay_is_decided_on_one_read_and_written_by_one_apply() -> None:
    ledger = FakeLedger()
    assert ingestor(ledger).submit(pending(sync_body())) is Outcome.CREATED
    assert (ledger.reads, ledger.applies) == (1, 1)
    [line] = [x.line for x in ledger.lines.values()]
    assert (line.rule_kind, line.commission_e4) == ("rate", 24800 * 150)


def test_a_replay_is_answered_from_the_read_without_a_write() -> None:
    ledger = FakeLedger()
    service = ingestor(ledger)
    service.submit(pending(sync_body()))
    assert service.submit(pending(sync_body())) is Outcome.REPLAYED
    assert ledger.applies == 1 and len(ledger.raw_requests) == 1


def test_a_replay_with_other_content_is_an_idempotency_conflict() -> None:
    service = ingestor(FakeLedger())
    service.submit(pending(sync_body()))
    answer = service.submit(pending(sync_body(storeId="S-2")))
    assert isinstance(answer, IdempotencyConflict)
    assert answer.context.endswith("differing fields: storeId")


def test_a_refund_queued_with_its_pay_waits_for_the_pay_to_be_committed() -> None:
    ledger = FakeLedger()
    answers = ingestor(ledger).submit_all([pending(sync_body()), pending(refund(1, 800))])
    assert answers == [Outcome.CREATED, Outcome.CREATED]
    assert (ledger.reads, ledger.applies) == (2, 2)  # the refund went to the next batch


def test_twins_in_one_batch_are_written_once_and_the_second_replays() -> None:
    ledger = FakeLedger()
    answers = ingestor(ledger).submit_all([pending(sync_body()), pending(sync_body())])
    assert answers == [Outcome.CREATED, Outcome.REPLAYED]
    assert len(ledger.rows) == 1 and len(ledger.raw_requests) == 1


def test_one_transaction_under_many_request_ids_is_created_once_and_the_rest_are_unchanged() -> (
    None
):
    ledger = FakeLedger()
    syncs = [pending(sync_body(requestId=f"req-{n}")) for n in range(5)]
    answers = ingestor(ledger).submit_all(syncs)
    assert answers == [Outcome.CREATED] + [Outcome.UNCHANGED] * 4
    assert len(ledger.rows) == 1 and len(ledger.bindings) == 5
    assert ledger.applies == 2  # the four re-sends bind in one batch


def test_independent_syncs_share_one_batch() -> None:
    ledger = FakeLedger()
    syncs = [pending(sync_body(requestId=f"q{n}", outTransId=f"T{n}")) for n in range(10)]
    assert ingestor(ledger).submit_all(syncs) == [Outcome.CREATED] * 10
    assert (ledger.reads, ledger.applies) == (1, 1)


def test_a_refund_that_lost_its_origin_to_a_concurrent_refund_is_decided_again() -> None:
    ledger = FakeLedger()
    service = ingestor(ledger)
    service.submit(pending(sync_body()))

    def concurrent_full_refund(fake: FakeLedger) -> None:
        fake.before_apply.clear()
        ingestor(fake).submit(pending(refund(9, None)))

    ledger.before_apply.append(concurrent_full_refund)
    answer = service.submit(pending(refund(1, 800)))
    assert isinstance(answer, RefundExceedsOrigin)  # decided again, on the refunded origin
    assert sum(r.transaction.direction == "refund" for r in ledger.rows.values()) == 1


def test_a_sync_verified_at_another_directory_version_is_sent_back_to_the_gateway() -> None:
    ledger = FakeLedger(directory_version=2)
    assert ingestor(ledger).submit(pending(sync_body(), version=1)) is Pending.DIRECTORY_MOVED
    assert ledger.applies == 0 and not ledger.rows


def test_when_the_plan_cannot_be_written_no_sync_of_the_batch_is_answered() -> None:
    class Broken(FakeLedger):
        def apply(self, plan: WritePlan) -> frozenset[int]:
            raise RuntimeError("disk full")

    ledger = Broken()
    syncs = [pending(sync_body(requestId=f"q{n}", outTransId=f"T{n}")) for n in range(3)]
    answers = ingestor(ledger).submit_all(syncs)
    assert all(isinstance(a, RuntimeError) for a in answers)
    with pytest.raises(RuntimeError, match="disk full"):
        ingestor(ledger).submit(pending(sync_body()))


def test_a_sync_that_keeps_losing_its_preconditions_gives_up() -> None:
    class Contending(FakeLedger):
        def apply(self, plan: WritePlan) -> frozenset[int]:
            return frozenset(s.sync for s in plan.syncs)

    with pytest.raises(Contended):
        ingestor(Contending()).submit(pending(sync_body()))


def test_a_refund_without_trade_amount_of_a_fully_refunded_pay_is_refused() -> None:
    service = ingestor(FakeLedger())
    service.submit(pending(sync_body()))
    assert service.submit(pending(refund(1, None))) is Outcome.CREATED
    answer = service.submit(pending(refund(2, None)))
    assert isinstance(answer, RefundExceedsOrigin)
    assert "already fully refunded" in answer.context


def test_a_goods_update_rewrites_the_pay_lines_and_its_refunds_reversals() -> None:
    ledger = FakeLedger()
    service = ingestor(ledger)
    goods = [{"goodsCode": "NEW_CONTRACT", "goodsPrice": {"currency": "HKD", "value": "24800"}}]
    answers = service.submit_all(
        [
            pending(sync_body()),
            pending(refund(1, 12400)),
            pending(sync_body(requestId="req-2", extendInfo={"goodsInfoList": goods})),
        ]
    )
    assert answers == [Outcome.CREATED, Outcome.CREATED, Outcome.UPDATED]
    active = sorted(
        (x.line.rule_kind, x.line.commission_e4) for x in ledger.lines.values() if x.active
    )
    assert active == [("fixed", 5000 * 10000), ("reversal", -2500 * 10000)]


# The event loop's front door: one writer thread, answers handed back once per batch.


def test_syncs_awaited_on_an_event_loop_are_written_by_one_thread_in_shared_batches() -> None:
    writers: set[str] = set()

    class Slow(FakeLedger):
        """Holds each apply a little, as a commit would, so that the loop queues meanwhile."""

        def apply(self, plan: WritePlan) -> frozenset[int]:
            writers.add(threading.current_thread().name)
            time.sleep(0.02)
            return super().apply(plan)

    ledger = Slow()
    service = ingestor(ledger)
    syncs = [pending(sync_body(requestId=f"q{n}", outTransId=f"T{n}")) for n in range(40)]

    async def all_of_them() -> list[Any]:
        return await asyncio.gather(*(service.enqueue(s) for s in syncs))

    try:
        assert asyncio.run(all_of_them()) == [Outcome.CREATED] * 40
    finally:
        service.close()
    assert len(ledger.rows) == 40
    assert ledger.applies < 40  # what queued while a batch was written went in the next one
    assert writers == {"asap-sync-writer"}


def test_an_awaited_sync_whose_batch_cannot_be_written_raises_and_nothing_hangs() -> None:
    class Broken(FakeLedger):
        def apply(self, plan: WritePlan) -> frozenset[int]:
            raise RuntimeError("disk full")

    service = ingestor(Broken())

    async def one() -> Any:
        return await service.enqueue(pending(sync_body()))

    try:
        with pytest.raises(RuntimeError, match="disk full"):
            asyncio.run(asyncio.wait_for(one(), timeout=10))
        # The writer survives the failure and writes the next batch.
        service.ledger = FakeLedger()
        service.ledger.links.add((CLIENT_ID, MERCHANT_ID))
        assert asyncio.run(asyncio.wait_for(one(), timeout=10)) is Outcome.CREATED
    finally:
        service.close()


def test_a_batch_is_written_in_its_first_requests_context() -> None:
    seen: list[str | None] = []
    marker: contextvars.ContextVar[str | None] = contextvars.ContextVar("marker", default=None)

    class Watching(FakeLedger):
        def apply(self, plan: WritePlan) -> frozenset[int]:
            seen.append(marker.get())
            return super().apply(plan)

    service = ingestor(Watching())

    async def one() -> Any:
        marker.set("request-1")
        return await service.enqueue(pending(sync_body()))

    try:
        assert asyncio.run(one()) is Outcome.CREATED
    finally:
        service.close()
    assert seen == ["request-1"]


def test_a_closed_ingestor_refuses_new_syncs() -> None:
    service = ingestor(FakeLedger())
    service.close()

    async def one() -> Any:
        return await service.enqueue(pending(sync_body()))

    with pytest.raises(RuntimeError, match="closed"):
        asyncio.run(one())


def test_the_writer_of_an_ingestor_nobody_holds_any_more_ends() -> None:
    service = ingestor(FakeLedger())
    assert asyncio.run(service.enqueue(pending(sync_body()))) is Outcome.CREATED
    writer = service._thread
    assert writer is not None and writer.is_alive()
    del service
    gc.collect()
    writer.join(timeout=10 * IDLE_CHECK_SECONDS)
    assert not writer.is_alive()  # it held neither the ingestor nor its ledger


class Sizes(FakeLedger):
    """Records the size of every plan it applies."""

    def __init__(self) -> None:
        super().__init__()
        self.sizes: list[int] = []

    def apply(self, plan: WritePlan) -> frozenset[int]:
        self.sizes.append(len(plan.syncs))
        return super().apply(plan)


def test_a_lone_request_is_written_at_once_with_nothing_else_in_flight() -> None:
    in_flight = InFlight()
    service = ingestor(Sizes(), in_flight=in_flight, batch_wait=30.0)

    async def one() -> Any:
        in_flight.enter()  # as the pipeline counts it
        try:
            return await service.enqueue(pending(sync_body()))
        finally:
            in_flight.leave()

    try:
        started = time.monotonic()
        assert asyncio.run(asyncio.wait_for(one(), timeout=10)) is Outcome.CREATED
        assert time.monotonic() - started < 5  # the writer did not wait for its 30 s
    finally:
        service.close()


def test_the_writer_waits_for_syncs_on_their_way_and_writes_them_in_one_batch() -> None:
    ledger = Sizes()
    in_flight = InFlight()
    service = ingestor(ledger, in_flight=in_flight, batch_wait=30.0)
    syncs = [pending(sync_body(requestId=f"w{n}", outTransId=f"W{n}")) for n in range(4)]

    async def request(n: int) -> Any:
        await asyncio.sleep(0.05 * n)  # verified and parsed one after the other
        try:
            return await service.enqueue(syncs[n])
        finally:
            in_flight.leave()

    async def four() -> list[Any]:
        for _ in syncs:
            in_flight.enter()  # four requests arrived together
        return await asyncio.gather(*(request(n) for n in range(4)))

    try:
        assert asyncio.run(asyncio.wait_for(four(), timeout=20)) == [Outcome.CREATED] * 4
    finally:
        service.close()
    # The first batch waited for half the four in flight. Once it was answered two were left
    # in flight, the next one alone was half of them: taken at once, and so was the last.
    assert ledger.sizes == [2, 1, 1]


def test_the_writer_waits_no_longer_than_its_batch_wait() -> None:
    ledger = Sizes()
    in_flight = InFlight()
    service = ingestor(ledger, in_flight=in_flight, batch_wait=0.1)

    async def stuck() -> Any:
        for _ in range(8):
            in_flight.enter()  # seven others in flight that never reach the writer
        return await service.enqueue(pending(sync_body()))

    try:
        started = time.monotonic()
        assert asyncio.run(asyncio.wait_for(stuck(), timeout=10)) is Outcome.CREATED
        waited = time.monotonic() - started
    finally:
        service.close()
    assert ledger.sizes == [1]
    assert 0.1 <= waited < 5
