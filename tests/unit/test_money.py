"""Money in integer minor units, commission in e4, one rounding function (STYLE §Conventions 1)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, localcontext

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asap_sync.domain.money import (
    E4_PER_MINOR,
    fixed_commission_e4,
    format_e4_hkd,
    format_minor_hkd,
    rate_commission_e4,
    round_e4_to_minor,
)

BIG = 10**22


def test_a_rate_in_basis_points_is_exact_in_e4() -> None:
    assert rate_commission_e4(24800, 150) == 3_720_000  # 1.5 % of 248.00 HKD = 3.72 HKD
    assert rate_commission_e4(1, 1) == 1  # 0.01 % of one cent is one e4
    assert rate_commission_e4(24800, 0) == 0


def test_a_fixed_amount_per_item_is_that_many_minor_units_in_e4() -> None:
    assert fixed_commission_e4(5000) == 5000 * E4_PER_MINOR
    assert fixed_commission_e4(0) == 0


@pytest.mark.parametrize(
    ("e4", "minor"),
    [
        (0, 0),
        (1, 0),
        (4999, 0),
        (5000, 1),
        (5001, 1),
        (9999, 1),
        (10_000, 1),
        (14_999, 1),
        (15_000, 2),
        (25_000, 3),
        (-1, 0),
        (-4999, 0),
        (-5000, -1),
        (-5001, -1),
        (-15_000, -2),
        (-25_000, -3),
    ],
)
def test_rounding_to_the_minor_unit_is_half_up_with_ties_away_from_zero(
    e4: int, minor: int
) -> None:
    assert round_e4_to_minor(e4) == minor


@settings(max_examples=500)
@given(st.integers(-BIG, BIG) | st.integers(-(10**5), 10**5).map(lambda n: n * 5000))
def test_rounding_agrees_with_decimal_round_half_up(e4: int) -> None:
    with localcontext() as context:
        context.prec = 60
        expected = (Decimal(e4) / E4_PER_MINOR).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    assert round_e4_to_minor(e4) == int(expected)


@settings(max_examples=200)
@given(st.integers(-BIG, BIG))
def test_rounding_is_symmetric_around_zero(e4: int) -> None:
    assert round_e4_to_minor(-e4) == -round_e4_to_minor(e4)


@pytest.mark.parametrize(
    ("minor", "text"),
    [
        (0, "0.00"),
        (5, "0.05"),
        (50, "0.50"),
        (100, "1.00"),
        (12345, "123.45"),
        (200_000, "2000.00"),
        (-5, "-0.05"),
        (-12345, "-123.45"),
    ],
)
def test_minor_units_format_as_hkd_with_two_decimals(minor: int, text: str) -> None:
    assert format_minor_hkd(minor) == text


@pytest.mark.parametrize(
    ("e4", "text"),
    [
        (0, "0.000000"),
        (1, "0.000001"),
        (1_234_567, "1.234567"),
        (1_000_000, "1.000000"),
        (3_720_000, "3.720000"),
        (-1, "-0.000001"),
        (-1_234_567, "-1.234567"),
    ],
)
def test_e4_amounts_format_as_hkd_with_six_exact_decimals(e4: int, text: str) -> None:
    assert format_e4_hkd(e4) == text


@settings(max_examples=200)
@given(st.integers(-BIG, BIG))
def test_formatted_amounts_are_exact_decimal_values(amount: int) -> None:
    assert Decimal(format_minor_hkd(amount)) == Decimal(amount).scaleb(-2)
    assert Decimal(format_e4_hkd(amount)) == Decimal(amount).scaleb(-6)
