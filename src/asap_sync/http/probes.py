"""Probes for orchestrators: ``/livez`` (the process answers) and ``/readyz`` (it can serve)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Engine

from asap_sync.storage.gateway import GatewayStore
from asap_sync.storage.migrate import current_revision, head_revision

log = logging.getLogger("asap_sync.probes")

READY_TIMEOUT_SECONDS = 5.0

# A check returns None when all is well, else what is wrong, in an operator's words.
Check = Callable[[], str | None]


def run_checks(checks: Mapping[str, Check]) -> tuple[bool, dict[str, Any]]:
    """Run every check in order; a check that fails makes the ones after it ``skipped``.

    Returns whether all passed and the JSON body of the answer."""
    results: dict[str, str] = {}
    failed = False
    for name, check in checks.items():
        if failed:
            results[name] = "skipped"
            continue
        try:
            problem = check()
        except Exception as exc:
            problem = f"check failed: {exc.__class__.__name__}"
            log.warning("readiness check %s failed", name, exc_info=True)
        results[name] = problem or "ok"
        failed = problem is not None
    return not failed, {"status": "unavailable" if failed else "ok", "checks": results}


def readiness_checks(engine: Engine, gateway: GatewayStore) -> dict[str, Check]:
    """Database reachable, schema at this version's head, platform signing key loaded."""
    revision: list[str | None] = []

    def database() -> str | None:
        revision[:] = [current_revision(engine)]
        return None

    def schema() -> str | None:
        head = head_revision()
        if revision[0] != head:
            return (
                f"at {revision[0] or 'nothing'}, this version needs {head}: run asap-sync migrate"
            )
        return None

    def platform_key() -> str | None:
        if gateway.snapshot(None).platform is None:
            return "no active platform signing key: run asap-sync init"
        return None

    return {"database": _unreachable(database), "schema": schema, "platform_key": platform_key}


def _unreachable(check: Check) -> Check:
    def guarded() -> str | None:
        try:
            return check()
        except Exception as exc:
            return f"unreachable: {exc.__class__.__name__}"

    return guarded
