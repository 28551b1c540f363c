"""Run hostile cases against a server and judge every answer."""

from __future__ import annotations

import json
import random
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from tests.hostile.framing_cases import all_kinds
from tests.hostile.harness import (
    BODY_TIMEOUT,
    HostileServer,
    Reply,
    exchange,
    signed_answer_problem,
)
from tests.hostile.requests import Case


@dataclass(frozen=True)
class Failure:
    kind: str
    problem: str


def judge(case: Case, reply: Reply) -> str | None:
    """Why this reply breaks the promises of docs/security.md, or None."""
    if reply.status is None:
        return None if case.closed or case.plain else "no answer"
    if reply.status != 200 or not case.signed:
        if reply.status in case.plain:
            return None
        return f"plain {reply.status} (allowed: {sorted(case.plain)}, signed: {case.signed})"
    problem = signed_answer_problem(reply, case.method)
    if problem is not None:
        return problem
    try:
        answer = json.loads(reply.body)
    except ValueError:
        return f"answer is not JSON: {reply.body[:80]!r}"
    code = answer.get("errorCode") or "SUCCESS"
    if code not in case.codes:
        context = answer.get("errorContext", "")[:120]
        return f"{code} ({context!r}), expected one of {sorted(case.codes)}"
    return None


def cases(count: int, seed: int = 0) -> list[Case]:
    """``count`` cases: every kind in turn, each time with fresh random values."""
    kinds = all_kinds()
    return [kinds[i % len(kinds)][1](random.Random(seed * 1_000_003 + i)) for i in range(count)]


def run_cases(server: HostileServer, batch: list[Case], *, threads: int = 8) -> list[Failure]:
    """Send every case (``threads`` at a time) and return what went wrong."""

    def one(case: Case) -> Failure | None:
        try:
            reply = exchange(server.port, case.payload, wait=BODY_TIMEOUT + case.wait)
        except OSError as exc:
            return Failure(case.kind, f"socket error {exc!r}")
        problem = judge(case, reply)
        return None if problem is None else Failure(case.kind, problem)

    with ThreadPoolExecutor(max_workers=threads) as pool:
        return [f for f in pool.map(one, batch) if f is not None]
