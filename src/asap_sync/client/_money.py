"""Amounts for the SDK: ``int`` minor units or ``Decimal`` HKD, never ``float``."""

from __future__ import annotations

from decimal import Decimal

MAX_MINOR_DIGITS = 18
HKD_DECIMALS = 2

Amount = int | Decimal
"""``int``: minor units (``24800`` is 248.00 HKD). ``Decimal``: HKD (``Decimal("248.00")``)."""


class AmountError(ValueError):
    """The amount is not a natural number of minor units, or HKD with at most 2 decimals."""


def to_minor_units(amount: object, *, field: str = "amount") -> int:
    """Minor units of an ``int`` (already minor units) or a ``Decimal`` HKD amount."""
    if isinstance(amount, bool) or not isinstance(amount, int | Decimal):
        raise AmountError(
            f"{field}: must be int minor units or Decimal HKD, not {type(amount).__name__}"
        )
    minor = _decimal_hkd_to_minor(amount, field=field) if isinstance(amount, Decimal) else amount
    if minor < 0:
        raise AmountError(f"{field}: must not be negative")
    if len(str(minor)) > MAX_MINOR_DIGITS:
        raise AmountError(f"{field}: must have at most {MAX_MINOR_DIGITS} digits in minor units")
    return minor


def _decimal_hkd_to_minor(amount: Decimal, *, field: str) -> int:
    if not amount.is_finite():
        raise AmountError(f"{field}: must be a finite amount")
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -HKD_DECIMALS:
        raise AmountError(f"{field}: HKD has at most {HKD_DECIMALS} decimals, got {amount}")
    return int(amount.scaleb(HKD_DECIMALS))


def parse_hkd(text: str, *, field: str = "amount") -> int:
    """Minor units of an HKD amount written as text (``"248.00"``, ``"248"``, ``"0.5"``)."""
    cleaned = text.strip()
    if not cleaned or not all(ch.isdigit() or ch == "." for ch in cleaned):
        raise AmountError(f"{field}: {text!r} is not an HKD amount like 248.00")
    try:
        return to_minor_units(Decimal(cleaned), field=field)
    except ArithmeticError as exc:
        raise AmountError(f"{field}: {text!r} is not an HKD amount like 248.00") from exc


def parse_minor(text: str, *, field: str = "amount") -> int:
    """Minor units written as digits (``"24800"``)."""
    cleaned = text.strip()
    if not cleaned.isascii() or not cleaned.isdigit():
        raise AmountError(f"{field}: {text!r} is not a whole number of minor units")
    return to_minor_units(int(cleaned), field=field)


def format_hkd(minor: int) -> str:
    """``24800`` → ``"248.00"``; for display only."""
    sign = "-" if minor < 0 else ""
    whole, cents = divmod(abs(minor), 10**HKD_DECIMALS)
    return f"{sign}{whole}.{cents:02d}"
