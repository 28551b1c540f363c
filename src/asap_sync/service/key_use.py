"""When each client key was last used, without a write per sync.

Each server process remembers, per (client, key version), the latest time a signature made
with that key verified; the map is written at most once an interval (the first use after a
write starts the interval's timer, so no timer outlives a quiet interval) and at shutdown. The
write keeps the later of what is stored and what is written, so processes never move a key's
last use backwards. What the console shows is as of the last write: up to an interval behind.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from datetime import datetime

log = logging.getLogger("asap_sync.key_use")

Uses = Mapping[tuple[str, int], datetime]


class KeyUse:
    """The latest verified use of each key in this process, written now and then."""

    def __init__(self, write: Callable[[Uses], None] | None, *, interval: float = 60.0) -> None:
        """``write`` stores a batch of last uses (``None``: remember nothing)."""
        self._write, self.interval = write, interval
        self._lock = threading.Lock()
        self._pending: dict[tuple[str, int], datetime] = {}
        self._timer: threading.Timer | None = None

    def used(self, client_id: str, key_version: int, at: datetime) -> None:
        """A signature made with this key verified at ``at``."""
        if self._write is None:
            return
        key = (client_id, key_version)
        with self._lock:
            known = self._pending.get(key)
            if known is None or at > known:
                self._pending[key] = at
            if self._timer is None:
                self._timer = threading.Timer(self.interval, self._flush_on_time)
                self._timer.daemon = True
                self._timer.start()

    def _flush_on_time(self) -> None:
        with self._lock:
            self._timer = None
        try:
            self.flush()
        except Exception:
            log.exception("could not write the keys' last use; kept for the next write")

    def flush(self) -> None:
        """Write what was used since the last write; on failure it is kept for the next one."""
        if self._write is None:
            return
        with self._lock:
            pending, self._pending = self._pending, {}
        if not pending:
            return
        try:
            self._write(pending)
        except Exception:
            with self._lock:
                for key, at in pending.items():
                    known = self._pending.get(key)
                    self._pending[key] = at if known is None else max(known, at)
            raise


UNTRACKED = KeyUse(None)  # remembers nothing: for pipelines built without a store
