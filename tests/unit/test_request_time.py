"""Request-Time parsing in every format seen in the wild, and the freshness window (SPEC §2)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asap_sync.wire import (
    RequestTimeError,
    format_response_time,
    parse_request_time,
    within_window,
)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
HKT = timezone(timedelta(hours=8))
EST = timezone(timedelta(hours=-5))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2019-10-22T01:19:50Z", datetime(2019, 10, 22, 1, 19, 50, tzinfo=UTC)),
        ("2019-10-22T01:19:50+08:00", datetime(2019, 10, 22, 1, 19, 50, tzinfo=HKT)),
        ("2019-10-22T01:19:50+0800", datetime(2019, 10, 22, 1, 19, 50, tzinfo=HKT)),
        ("2019-10-22T01:19:50-05:00", datetime(2019, 10, 22, 1, 19, 50, tzinfo=EST)),
        ("2019-10-22T01:19:50-0500", datetime(2019, 10, 22, 1, 19, 50, tzinfo=EST)),
        ("2019-10-22T01:19:50+00:00", datetime(2019, 10, 22, 1, 19, 50, tzinfo=UTC)),
        ("2024-02-29T23:59:59Z", datetime(2024, 2, 29, 23, 59, 59, tzinfo=UTC)),
    ],
)
def test_iso_8601_with_z_or_an_offset_with_or_without_colon_parses(
    text: str, expected: datetime
) -> None:
    parsed = parse_request_time(text)
    assert parsed == expected
    assert parsed.utcoffset() == expected.utcoffset()


@pytest.mark.parametrize(
    ("fraction", "microseconds"),
    [
        ("1", 100_000),
        ("12", 120_000),
        ("123", 123_000),
        ("1234", 123_400),
        ("12345", 123_450),
        ("123456", 123_456),
        ("1234567", 123_456),
        ("12345678", 123_456),
        ("123456789", 123_456),
    ],
)
def test_fractions_of_one_to_nine_digits_parse_and_finer_than_microseconds_are_dropped(
    fraction: str, microseconds: int
) -> None:
    for zone in ("Z", "+08:00", "+0800", "-05:00"):
        parsed = parse_request_time(f"2019-10-22T01:19:50.{fraction}{zone}")
        assert parsed.microsecond == microseconds


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1685081000000", datetime(2023, 5, 26, 6, 3, 20, tzinfo=UTC)),
        ("1685081000123", datetime(2023, 5, 26, 6, 3, 20, 123_000, tzinfo=UTC)),
        ("1000000000000", datetime(2001, 9, 9, 1, 46, 40, tzinfo=UTC)),
    ],
)
def test_epoch_milliseconds_of_thirteen_digits_parse_as_utc(text: str, expected: datetime) -> None:
    parsed = parse_request_time(text)
    assert parsed == expected
    assert parsed.tzinfo is not None


@settings(max_examples=300)
@given(st.integers(10**12, 10**13 - 1))
def test_any_thirteen_digit_epoch_millisecond_value_is_that_exact_instant(millis: int) -> None:
    assert parse_request_time(str(millis)) == EPOCH + timedelta(milliseconds=millis)


@settings(max_examples=200)
@given(
    moment=st.datetimes(
        min_value=datetime(1971, 1, 1), max_value=datetime(9998, 12, 31), timezones=st.just(UTC)
    ),
    offset_minutes=st.integers(-14 * 60, 14 * 60),
    colon=st.booleans(),
)
def test_any_instant_written_with_any_whole_minute_offset_parses_back_to_that_instant(
    moment: datetime, offset_minutes: int, colon: bool
) -> None:
    local = moment.astimezone(timezone(timedelta(minutes=offset_minutes)))
    sign = "-" if offset_minutes < 0 else "+"
    hours, minutes = divmod(abs(offset_minutes), 60)
    zone = f"{sign}{hours:02d}{':' if colon else ''}{minutes:02d}"
    text = local.strftime("%Y-%m-%dT%H:%M:%S") + f".{local.microsecond:06d}" + zone
    assert parse_request_time(text) == moment


@pytest.mark.parametrize(
    "text",
    [
        "2019-10-22T01:19:50",
        "2019-10-22T01:19:50.123",
        "2019-10-22",
        "168508100000",
        "16850810000000",
        "1685081000000.5",
        "-168508100000",
        "",
        "garbage",
        "now",
        "2025-02-30T00:00:00Z",
        "2025-13-01T00:00:00Z",
        "2025-01-01T24:00:00Z",
        "2025-01-01T00:60:00Z",
        "2019-10-22 01:19:50Z",
        "2019-10-22T01:19:50.Z",
        "2019-10-22T01:19:50.1234567890Z",
        "2019-10-22T01:19:50+8:00",
        "2019-10-22T01:19:50+08",
        "2019-10-22T01:19:50 +08:00",
        "2019-10-22T01:19:50+08:00[Asia/Hong_Kong]",
        "Tue, 22 Oct 2019 01:19:50 GMT",
    ],
)
def test_values_without_offset_wrong_digit_counts_garbage_and_invalid_dates_are_refused(
    text: str,
) -> None:
    with pytest.raises(RequestTimeError):
        parse_request_time(text)


@pytest.mark.parametrize(
    "text", ["0001-01-01T00:00:00+23:59", "9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+0001"]
)
def test_an_instant_outside_what_a_datetime_holds_in_utc_is_refused_not_overflowing(
    text: str,
) -> None:
    with pytest.raises(RequestTimeError, match="not a valid date and time"):
        parse_request_time(text)


def test_the_extreme_instants_that_do_fit_in_utc_still_parse() -> None:
    assert parse_request_time("0001-01-01T00:00:00Z") == datetime(1, 1, 1, tzinfo=UTC)
    assert parse_request_time("9999-12-31T23:59:59+00:00").year == 9999


def test_request_time_error_is_a_value_error() -> None:
    assert issubclass(RequestTimeError, ValueError)


NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=15)
TICK = timedelta(microseconds=1)


@pytest.mark.parametrize("direction", [-1, 1], ids=["past", "future"])
def test_a_request_time_exactly_at_the_window_edge_is_within_it(direction: int) -> None:
    assert within_window(NOW + direction * WINDOW, NOW, WINDOW)


@pytest.mark.parametrize("direction", [-1, 1], ids=["past", "future"])
def test_a_request_time_one_microsecond_beyond_the_window_edge_is_outside_it(
    direction: int,
) -> None:
    assert not within_window(NOW + direction * (WINDOW + TICK), NOW, WINDOW)


def test_the_window_compares_instants_not_wall_clock_readings() -> None:
    sent = parse_request_time("2025-06-01T20:14:00+08:00")
    assert within_window(sent, NOW, WINDOW)
    assert not within_window(parse_request_time("2025-06-01T12:14:00+08:00"), NOW, WINDOW)


def test_response_time_is_iso_8601_with_offset_to_the_second() -> None:
    moment = datetime(2019, 10, 22, 1, 19, 51, 987_654, tzinfo=HKT)
    assert format_response_time(moment) == "2019-10-22T01:19:51+08:00"
    assert parse_request_time(format_response_time(moment)) == moment.replace(microsecond=0)
