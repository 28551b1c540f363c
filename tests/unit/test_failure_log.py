"""Failures are logged once per kind per interval, with a count of those held back."""

from __future__ import annotations

import logging

import pytest

from asap_sync.http.failure_log import FailureLog


def _fail(failures: FailureLog, where: str, error: Exception) -> None:
    try:
        raise error
    except Exception:
        failures.exception(where, "it failed")


def test_a_failure_repeated_within_the_interval_is_logged_once_then_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    failures = FailureLog(logging.getLogger("t"), interval=60, clock=lambda: now[0])
    with caplog.at_level(logging.ERROR):
        for _ in range(100):
            _fail(failures, "decide", ConnectionError())
        _fail(failures, "decide", KeyError())
        _fail(failures, "record", ConnectionError())
        now[0] = 61.0
        _fail(failures, "decide", ConnectionError())
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [
        "it failed",
        "it failed",
        "it failed",
        "it failed (99 more like it in the last 60 s)",
    ]
    assert all(r.exc_info for r in caplog.records)
