"""Console sessions: signed cookies, CSRF tokens and login throttling."""

from __future__ import annotations

import hmac
import secrets
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from itsdangerous import BadSignature, URLSafeTimedSerializer

COOKIE = "asap_console"
SESSION_MAX_AGE = timedelta(hours=12)


@dataclass(frozen=True, kw_only=True, slots=True)
class ConsoleSession:
    """What the signed cookie carries: who, under which session epoch, and the CSRF token."""

    name: str
    epoch: int
    csrf: str


class SessionCodec:
    """Signs and checks session cookies; a cookie older than the maximum age is refused.

    The key lives in the admin process only: restarting the console ends every session.
    """

    def __init__(self, key: bytes, *, max_age: timedelta = SESSION_MAX_AGE) -> None:
        self._serializer = URLSafeTimedSerializer(key, salt="asap-sync-console-session")
        self.max_age = max_age

    def issue(self, name: str, epoch: int) -> tuple[ConsoleSession, str]:
        """A new session (with a fresh CSRF token) and its cookie value."""
        session = ConsoleSession(name=name, epoch=epoch, csrf=secrets.token_urlsafe(32))
        value = self._serializer.dumps({"n": name, "e": epoch, "c": session.csrf})
        return session, value

    def read(self, value: str | None) -> ConsoleSession | None:
        """The session of a cookie, or None when it is missing, forged or expired."""
        if not value:
            return None
        try:
            data = self._serializer.loads(value, max_age=int(self.max_age.total_seconds()))
            return ConsoleSession(name=str(data["n"]), epoch=int(data["e"]), csrf=str(data["c"]))
        except (BadSignature, KeyError, TypeError, ValueError):
            return None


def csrf_ok(expected: str, given: str | None) -> bool:
    """True when a form (or an htmx header) carries the expected token (constant time)."""
    return (
        bool(expected)
        and bool(given)
        and hmac.compare_digest(expected.encode(), str(given).encode())
    )


class LoginThrottle:
    """Refuses logins after too many failures for one name or from one address.

    ``limit`` failures within ``window`` lock the name (and the address) until the oldest of
    them leaves the window. Kept in memory: the console runs in one process.
    """

    def __init__(
        self,
        clock: Callable[[], datetime],
        *,
        limit: int = 5,
        window: timedelta = timedelta(minutes=15),
    ) -> None:
        self._clock, self._limit, self._window = clock, limit, window
        self._failures: dict[str, deque[datetime]] = {}
        self._lock = threading.Lock()

    def retry_after(self, *keys: str) -> timedelta | None:
        """How long until these keys may try again; None when they may now."""
        now = self._clock()
        waits = []
        with self._lock:
            for key in keys:
                recent = self._recent(key, now)
                if len(recent) >= self._limit:
                    waits.append(recent[0] + self._window - now)
        return max(waits) if waits else None

    def failed(self, *keys: str) -> None:
        """Count one failed login against each key."""
        now = self._clock()
        with self._lock:
            for key in keys:
                self._recent(key, now).append(now)

    def succeeded(self, *keys: str) -> None:
        """A good login clears the name's failures."""
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)

    def _recent(self, key: str, now: datetime) -> deque[datetime]:
        recent = self._failures.setdefault(key, deque())
        while recent and recent[0] + self._window <= now:
            recent.popleft()
        return recent
