"""Cheap refusals: a flood of unauthenticated requests is throttled per source address, its
rejections are counted rather than written one by one, and other callers are still served."""

from __future__ import annotations

import json
import random
from pathlib import Path

from sqlalchemy import select

from asap_sync.storage.engine import make_engine
from asap_sync.storage.tables import rejections
from tests.hostile.conftest import prepared
from tests.hostile.harness import exchange, signed_answer_problem, start_hostile_server
from tests.hostile.requests import Request, compact, fresh_body

FLOOD = 600


def test_a_flood_of_bad_signatures_is_throttled_counted_and_does_not_lock_out_others(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o700)
    url = f"sqlite:///{data_dir / 'asap-sync.sqlite3'}"
    prepared(url)
    server = start_hostile_server(data_dir, extra_env={"ASAP_SYNC_THROTTLED_DELAY_SECONDS": "0.01"})
    codes: list[str] = []
    try:
        for _ in range(FLOOD):
            request = Request(compact(fresh_body(random.Random()))).unsigned()
            reply = exchange(server.port, request.frame(), source="127.0.0.3")
            assert signed_answer_problem(reply, "POST") is None
            codes.append(json.loads(reply.body)["errorCode"])
        legit = Request(compact(fresh_body(random.Random()))).sign()
        reply = exchange(server.port, legit.frame(), source="127.0.0.4")
        assert json.loads(reply.body) == {"success": True, "invokeResult": "SUCCESS"}
    finally:
        server.stop()  # a clean shutdown writes the counts of the interval
    assert codes[0] == "INVALID_SIGNATURE" and codes[-1] == "REQUEST_TRAFFIC_EXCEED_LIMIT"
    engine = make_engine(url)
    with engine.connect() as conn:
        contexts = conn.execute(select(rejections.c.context)).scalars().all()
    engine.dispose()
    counted = [c for c in contexts if "more like this from 127.0.0.3" in c]
    assert len(contexts) <= FLOOD // 10 and counted  # 20 kept whole per 10 s, the rest counted
    assert sum(int(c.split(" ", 1)[0]) for c in counted) + len(contexts) - len(counted) == FLOOD
