"""Request-Time / Response-Time parsing in every format seen in the wild."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from asap_sync.wire.echo import echoed

_EPOCH_MS = re.compile(r"^\d{13}$")
_ISO = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})T(?P<time>\d{2}:\d{2}:\d{2})(?P<frac>\.\d{1,9})?"
    r"(?P<zone>Z|[+-]\d{2}:?\d{2})$"
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class RequestTimeError(ValueError):
    """The value is in none of the accepted formats."""


def parse_request_time(value: str) -> datetime:
    """Parse ISO 8601 with ``Z``, ``+08:00`` or ``+0800`` and optional fraction, or epoch ms."""
    text = value.strip()
    if _EPOCH_MS.match(text):
        # Integer arithmetic: a float of seconds loses microseconds far from 1970.
        return _EPOCH + timedelta(milliseconds=int(text))
    match = _ISO.match(text)
    if match is None:
        raise RequestTimeError(
            f"{echoed(value)!r} is neither ISO 8601 with an offset nor epoch millis"
        )
    frac = (match["frac"] or "")[:7]  # datetime keeps microseconds; finer digits are dropped
    zone = match["zone"]
    if zone == "Z":
        zone = "+00:00"
    elif ":" not in zone:
        zone = f"{zone[:3]}:{zone[3:]}"
    try:
        parsed = datetime.fromisoformat(f"{match['date']}T{match['time']}{frac}{zone}")
        # 0001-01-01T00:00:00+23:59 is a valid local time whose UTC instant is before year 1:
        # every later comparison would overflow, so such an instant is not a valid time here.
        parsed.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise RequestTimeError(f"{echoed(value)!r} is not a valid date and time") from exc
    return parsed


def within_window(sent: datetime, now: datetime, window: timedelta) -> bool:
    """True when ``sent`` is no further than ``window`` from ``now`` in either direction."""
    return abs(now - sent) <= window


def format_response_time(now: datetime) -> str:
    """ISO 8601 with offset, seconds precision: ``2019-10-22T01:19:51+08:00``."""
    return now.isoformat(timespec="seconds")
