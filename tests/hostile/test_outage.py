"""A database outage under a running server: every answer still signed (PostgreSQL behind a
proxy that the test cuts)."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import make_url

from tests.hostile.conftest import prepared
from tests.hostile.harness import (
    HostileServer,
    exchange,
    signed_answer_problem,
    start_hostile_server,
)
from tests.hostile.proxy import OutageProxy
from tests.hostile.requests import Request, compact, fresh_body


@dataclass
class Outage:
    server: HostileServer
    proxy: OutageProxy


@pytest.fixture
def outage(postgres_database: str, tmp_path: Path) -> Iterator[Outage]:
    prepared(postgres_database)
    url = make_url(postgres_database)
    proxy = OutageProxy((url.host or "127.0.0.1", url.port or 5432))
    through_proxy = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o700)
    server = start_hostile_server(data_dir, database_url=through_proxy)
    try:
        yield Outage(server, proxy)
    finally:
        server.stop()
        proxy.close()


def sync(server: HostileServer) -> dict[str, str]:
    reply = exchange(server.port, Request(compact(fresh_body(random.Random()))).sign().frame())
    assert signed_answer_problem(reply, "POST") is None, reply
    decoded: dict[str, str] = json.loads(reply.body)
    return decoded


def test_a_worker_that_has_answered_nothing_yet_signs_its_answers_while_the_database_is_down(
    outage: Outage,
) -> None:
    outage.proxy.cut()
    for _ in range(3):
        assert sync(outage.server)["errorCode"] == "SYSTEM_ERROR"


def test_after_an_outage_the_first_request_succeeds_and_the_log_holds_no_traceback_flood(
    outage: Outage,
) -> None:
    assert "success" in sync(outage.server)  # pooled connections exist before the outage
    for _ in range(4):
        assert sync(outage.server).get("success") is True
    outage.proxy.cut()
    for _ in range(40):
        assert sync(outage.server)["errorCode"] == "SYSTEM_ERROR"
    outage.proxy.restore()
    assert sync(outage.server).get("success") is True
    errors = [line for line in outage.server.log_text().splitlines() if " ERROR " in line]
    assert len(errors) <= 3, errors  # one entry per kind of failure: decide, confirm, record
