"""Money is integer minor units; commission is integer 1/10000 of a minor unit (``e4``)."""

from __future__ import annotations

E4_PER_MINOR = 10_000
BASIS_POINTS = 10_000


def rate_commission_e4(base_minor: int, rate_bp: int) -> int:
    """A rate in basis points, exact: ``base × bp / 10000`` minor is ``base × bp`` e4."""
    return base_minor * rate_bp


def fixed_commission_e4(fixed_minor: int) -> int:
    """Commission of a fixed amount per item, in e4."""
    return fixed_minor * E4_PER_MINOR


def round_e4_to_minor(amount_e4: int) -> int:
    """Round once to the minor unit, half up (ties away from zero, as ``ROUND_HALF_UP``)."""
    sign = -1 if amount_e4 < 0 else 1
    whole, rest = divmod(abs(amount_e4), E4_PER_MINOR)
    if rest * 2 >= E4_PER_MINOR:
        whole += 1
    return sign * whole


def format_minor_hkd(amount_minor: int) -> str:
    """``12345`` → ``"123.45"``; negative amounts keep their sign."""
    sign = "-" if amount_minor < 0 else ""
    whole, cents = divmod(abs(amount_minor), 100)
    return f"{sign}{whole}.{cents:02d}"


def format_e4_hkd(amount_e4: int) -> str:
    """``1234567`` e4 → ``"1.234567"`` HKD: exact, six decimals."""
    sign = "-" if amount_e4 < 0 else ""
    whole, frac = divmod(abs(amount_e4), 100 * E4_PER_MINOR)
    return f"{sign}{whole}.{frac:06d}"
