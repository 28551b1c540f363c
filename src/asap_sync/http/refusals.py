"""Cheap refusals of callers that are not authenticated (SPEC §2.1).

A request whose signature has not verified costs the platform an answer to sign and, until
now, a durable write. Here each source address and each claimed Client-Id has a budget of such
failures; past it, the caller gets one answer that is the same for a whole second (signed once
per second), before any lookup, verification or write. Their rejections are not written one by
one: the first ones of each interval are kept whole, the rest are counted per code, source and
claimed Client-Id and written as one row per group when the interval ends.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from asap_sync.http.failure_log import FailureLog
from asap_sync.service.ports import Rejection

log = logging.getLogger("asap_sync.refusals")
failures = FailureLog(log)

MAX_TRACKED = 100_000  # buckets per kind; past it they start afresh (a flood of addresses)


@dataclass(frozen=True, kw_only=True, slots=True)
class RefusalLimits:
    """Budgets of failed (unauthenticated) requests, per worker; 0 turns a budget off."""

    per_source: float = 20.0  # a second, per source address
    per_client_id: float = 50.0  # a second, per claimed Client-Id
    burst: float = 200.0
    keep_first: int = 20  # rejections of an interval kept whole
    interval: float = 10.0  # seconds between writes of the counts


class _Buckets:
    def __init__(self, rate: float, burst: float, clock: Callable[[], float]) -> None:
        self.rate, self.burst, self.clock = rate, burst, clock
        self._tokens: dict[str, tuple[float, float]] = {}

    def _level(self, key: str, now: float) -> float:
        tokens, last = self._tokens.get(key, (self.burst, now))
        return min(self.burst, tokens + (now - last) * self.rate)

    def empty(self, key: str) -> bool:
        return self.rate > 0 and self._level(key, self.clock()) < 1.0

    def take(self, key: str) -> None:
        if self.rate <= 0:
            return
        now = self.clock()
        if len(self._tokens) >= MAX_TRACKED:
            self._tokens.clear()
        # Floored: a source that stops flooding is served again within burst/rate seconds.
        self._tokens[key] = (max(self._level(key, now) - 1.0, -self.burst), now)


class Refusals:
    """Failure budgets and the aggregated rejection log of unauthenticated callers."""

    def __init__(
        self,
        limits: RefusalLimits,
        write: Callable[[list[Rejection]], None],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limits, self._write, self._clock = limits, write, clock
        self._lock = threading.Lock()
        self._sources = _Buckets(limits.per_source, limits.burst, clock)
        self._clients = _Buckets(limits.per_client_id, limits.burst, clock)
        self._window_start = clock()
        self._kept_count = 0
        self._counts: dict[tuple[str, str, str | None], tuple[Rejection, int]] = {}
        self._timer: threading.Timer | None = None

    def over_budget(self, source: str, client_id: str) -> bool:
        """True when this source or this claimed Client-Id has used up its failures."""
        with self._lock:
            return self._sources.empty(source) or bool(client_id and self._clients.empty(client_id))

    def failed(self, source: str, rejection: Rejection) -> None:
        """An unauthenticated rejection: charge the budgets; keep it whole or count it.

        The first ``keep_first`` of an interval are written at once (a bounded number of
        writes, so the operator sees a flood begin); the rest are counted and written as one
        row per code, source and Client-Id when the interval ends.
        """
        rejection = replace(rejection, source=rejection.source or source)
        with self._lock:
            self._sources.take(source)
            if rejection.client_id:
                self._clients.take(rejection.client_id)
            now = self._clock()
            if not self._counts and now - self._window_start >= self.limits.interval:
                self._kept_count, self._window_start = 0, now  # a quiet interval ended
            keep = self._kept_count < self.limits.keep_first
            if keep:
                self._kept_count += 1
            else:
                key = (rejection.code, source, rejection.client_id)
                first, count = self._counts.get(key, (rejection, 0))
                self._counts[key] = (first, count + 1)
                if self._timer is None:
                    self._timer = threading.Timer(self.limits.interval, self._flush_on_time)
                    self._timer.daemon = True
                    self._timer.start()
        if keep:
            self._write([rejection])

    def _flush_on_time(self) -> None:
        with self._lock:
            self._timer = None
        try:
            self.flush()
        except Exception:
            failures.exception("refusals", "could not write the counted rejections")

    def flush(self) -> None:
        """Write one row per counted group; start a new interval."""
        with self._lock:
            counts = self._counts
            seconds = self._clock() - self._window_start
            self._kept_count, self._counts, self._window_start = 0, {}, self._clock()
        rows = [_summary(key[1], *entry, seconds) for key, entry in counts.items()]
        if rows:
            self._write(rows)


def _summary(source: str, first: Rejection, count: int, seconds: float) -> Rejection:
    return replace(
        first,
        context=f"{count} more like this from {source} within {seconds:.0f} s "
        f"(the first: {first.context})",
    )
