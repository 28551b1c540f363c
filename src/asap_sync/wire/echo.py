"""What an answer may repeat of what the caller sent: at most 128 characters (SPEC §2.1).

A caller that is not authenticated yet must not be able to make an answer, a log line or a
stored rejection as large as its request.
"""

from __future__ import annotations

ECHO_LIMIT = 128


def echoed(value: str, limit: int = ECHO_LIMIT) -> str:
    """``value`` as an errorContext may quote it: cut to ``limit`` characters, marked if cut."""
    if len(value) <= limit:
        return value
    return f"{value[: limit - 1]}…"
