"""KeyUse: the latest use per key, written at most once an interval, kept when a write fails."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from asap_sync.service.key_use import UNTRACKED, KeyUse, Uses

T = datetime(2026, 1, 5, 4, 0, tzinfo=UTC)


def test_only_the_latest_use_of_each_key_is_written() -> None:
    written: list[dict[tuple[str, int], datetime]] = []
    uses = KeyUse(lambda batch: written.append(dict(batch)), interval=3600)
    uses.used("C", 1, T + timedelta(seconds=5))
    uses.used("C", 1, T)  # a slower thread, earlier
    uses.used("C", 2, T)
    assert written == []
    uses.flush()
    uses.flush()  # nothing since: no write
    assert written == [{("C", 1): T + timedelta(seconds=5), ("C", 2): T}]


def test_the_first_use_after_a_write_starts_the_one_timer() -> None:
    done = threading.Event()
    batches: list[Uses] = []

    def write(batch: Uses) -> None:
        batches.append(dict(batch))
        done.set()

    uses = KeyUse(write, interval=0.05)
    for n in range(100):
        uses.used("C", 1, T + timedelta(seconds=n))
    assert done.wait(5)
    assert batches == [{("C", 1): T + timedelta(seconds=99)}]


def test_a_failed_write_is_kept_for_the_next_one() -> None:
    calls: list[Uses] = []

    def write(batch: Uses) -> None:
        calls.append(dict(batch))
        if len(calls) == 1:
            raise OSError("database down")

    uses = KeyUse(write, interval=3600)
    uses.used("C", 1, T)
    with pytest.raises(OSError):
        uses.flush()
    uses.used("C", 1, T - timedelta(seconds=1))  # older than the one kept
    uses.flush()
    assert calls[-1] == {("C", 1): T}


def test_untracked_remembers_nothing() -> None:
    UNTRACKED.used("C", 1, T)
    UNTRACKED.flush()
