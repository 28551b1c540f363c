"""Failures logged once per kind per interval: an outage must not write a traceback per request.

The first failure of a kind (where it happened and the exception's class) in an interval is
logged with its traceback; the next ones are only counted, and the count is reported with the
first failure of that kind in the following interval.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable

DEFAULT_INTERVAL = 60.0


class FailureLog:
    """A logger front that keeps one entry per failure kind per ``interval`` seconds."""

    def __init__(
        self,
        logger: logging.Logger,
        *,
        interval: float = DEFAULT_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._logger, self._interval, self._clock = logger, interval, clock
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[float, int]] = {}  # kind → (window start, suppressed)

    def exception(self, where: str, message: str, *args: object) -> None:
        """Log the exception being handled, unless one of its kind was logged this interval."""
        kind = f"{where}:{_exception_name()}"
        now = self._clock()
        with self._lock:
            started, suppressed = self._windows.get(kind, (None, 0))
            if started is not None and now - started < self._interval:
                self._windows[kind] = (started, suppressed + 1)
                return
            self._windows[kind] = (now, 0)
        if suppressed:
            message += f" ({suppressed} more like it in the last {self._interval:.0f} s)"
        self._logger.error(message, *args, exc_info=True)


def _exception_name() -> str:
    kind = sys.exc_info()[0]
    return "none" if kind is None else kind.__name__
