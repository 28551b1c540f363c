"""Settlement periods: calendar months in the platform's time zone, by time of acceptance."""

from __future__ import annotations

from datetime import datetime, tzinfo


def period_of(accepted_at: datetime, zone: tzinfo) -> str:
    """``YYYY-MM`` of the month in ``zone`` that contains ``accepted_at``."""
    local = accepted_at.astimezone(zone)
    return f"{local.year:04d}-{local.month:02d}"
