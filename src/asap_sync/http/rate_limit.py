"""A token bucket per client, per worker process (off unless configured)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class RateLimiter:
    """Allows ``rate`` requests a second per client with bursts of up to ``burst``.

    Each worker keeps its own buckets, so the limit a client sees is ``rate × workers``;
    it is a guard against floods, not an accounting tool.
    """

    def __init__(
        self,
        rate: float,
        *,
        burst: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate, self.burst, self.clock = rate, burst or max(rate, 1.0), clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def allow(self, client_id: str) -> bool:
        """Take a token for the client if one is left."""
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.get(client_id, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            allowed = tokens >= 1.0
            self._buckets[client_id] = (tokens - 1.0 if allowed else tokens, now)
        return allowed
