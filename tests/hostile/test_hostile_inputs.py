"""Every kind of hostile request once (the default gate), or as many as
``ASAP_SYNC_HOSTILE_CASES`` asks; every answer judged (see docs/security.md)."""

from __future__ import annotations

import os

from tests.hostile.framing_cases import all_kinds
from tests.hostile.harness import HostileServer
from tests.hostile.run import cases, run_cases

MEMORY_GROWTH_LIMIT_KIB = 64 * 1024


def test_at_least_two_hundred_kinds_of_hostile_request_are_generated() -> None:
    assert len(all_kinds()) >= 200


def test_every_hostile_request_gets_a_signed_answer_or_a_documented_plain_refusal(
    hostile_server: HostileServer,
) -> None:
    count = int(os.environ.get("ASAP_SYNC_HOSTILE_CASES", "0")) or len(all_kinds())
    run_cases(hostile_server, cases(min(count, 50)))  # warm up before memory is measured
    before = hostile_server.rss_kib()
    failures = run_cases(hostile_server, cases(count, seed=1))
    grown = hostile_server.rss_kib() - before
    assert failures == [], "\n".join(f"{f.kind}: {f.problem}" for f in failures[:40])
    assert "Traceback" not in hostile_server.log_text()
    assert "SYSTEM_ERROR" not in hostile_server.log_text()
    assert grown < MEMORY_GROWTH_LIMIT_KIB, f"worker memory grew by {grown} KiB"
