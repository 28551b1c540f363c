"""The SQL ledger adapters write, batch by batch, exactly the ledger the in-memory one writes one
sync at a time, for the same random history; and the audit passes after it."""

from __future__ import annotations

import json
import random
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select

from asap_sync.domain.errors import RuleViolation
from asap_sync.service.decide import PendingSync
from asap_sync.service.ingest import Ingestor
from asap_sync.storage.tables import commission_lines, request_bindings, transactions
from tests.fakes import FakeContracts, FakeLedger, ledger_dump

from .kit import CLIENT, Ledger, body_of, register

MERCHANTS = ("M1", "M2")
CODES = ("RENEWAL", "NEW_CONTRACT")


def history(ledger: Ledger, rng: random.Random, size: int) -> list[PendingSync]:
    """Pays, refunds, goods updates, replays, re-sends and twins over a few keys."""
    syncs = []
    for _ in range(size):
        merchant, n = rng.choice(MERCHANTS), rng.randrange(4)
        request_id = f"q{rng.randrange(12)}"
        date = ledger.now - timedelta(hours=1)
        goods = [(rng.choice(CODES), rng.randrange(0, 20_000)) for _ in range(rng.randrange(3))]
        if rng.random() < 0.6:
            amount = rng.choice([None, rng.randrange(0, 30_000)]) if goods else 10_000
            raw = body_of(
                merchant=merchant,
                out_id=f"P{n}",
                request_id=request_id,
                trans_date=date,
                amount=amount,
                goods=goods,
            )
        else:
            raw = body_of(
                merchant=merchant,
                out_id=f"R{n}",
                request_id=request_id,
                trans_date=date,
                amount=rng.choice([None, rng.randrange(0, 20_000)]),
                origin=f"P{rng.randrange(4)}",
            )
        syncs.append(ledger.pending(raw))
    return syncs


def sql_dump(engine: Engine) -> dict[str, Any]:
    """The database's ledger in the fake's form (business keys instead of ids)."""
    with engine.connect() as conn:
        rows = conn.execute(select(transactions)).all()
        lines = conn.execute(select(commission_lines)).all()
        bindings = conn.execute(select(request_bindings)).all()
    key = {r.transaction_id: (r.merchant_id, r.out_trans_id) for r in rows}
    line_key = {line.line_id: (key[line.transaction_id], line.line_no) for line in lines}
    return ledger_dump(
        bindings={(b.client_id, b.request_id): json.loads(b.content) for b in bindings},
        transactions={
            key[r.transaction_id]: (
                r.direction,
                r.amount_minor,
                json.loads(r.content),
                None if r.origin_id is None else key[r.origin_id],
                r.status,
                r.revision,
            )
            for r in rows
        },
        lines=[
            (
                key[line.transaction_id],
                line.line_no,
                line.superseded_at is None,
                line.rule_kind,
                line.commission_e4,
                None if line.reverses_line_id is None else line_key[line.reverses_line_id],
            )
            for line in lines
        ],
    )


def outcome(answer: Any) -> Any:
    return (answer.code, answer.context) if isinstance(answer, RuleViolation) else answer


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_sql_ledger_in_batches_matches_the_fake_one_sync_at_a_time_and_audits_clean(
    settle_engine: Engine, seed: int
) -> None:
    register(settle_engine, MERCHANTS)
    ledger, rng = Ledger(settle_engine), random.Random(seed)
    syncs = history(ledger, rng, 40)
    version = syncs[0].directory_version
    links = [(CLIENT, merchant) for merchant in MERCHANTS]
    contracts = ledger.directory.contracts_at(version, links)
    assert contracts is not None

    sql = Ingestor(
        ledger=ledger.ingestor.ledger,
        directory=ledger.directory,
        policy=ledger.policy,
        max_batch=rng.randint(2, 16),
    )
    answers = [outcome(a) for a in sql.submit_all(syncs)]

    fake = FakeLedger(directory_version=version, links=set(links))
    one_by_one = Ingestor(
        ledger=fake,
        directory=FakeContracts(fake, {k: v for k, v in contracts.items() if v is not None}),
        policy=ledger.policy,
        max_batch=1,
    )
    assert answers == [outcome(one_by_one.submit_all([s])[0]) for s in syncs]
    assert sql_dump(settle_engine) == fake.dump()
    report = ledger.audit()
    assert report.ok, [v.as_dict() for v in report.violations]
