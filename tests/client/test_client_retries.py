"""Retries: same requestId and body, fresh Request-Time, capped jittered backoff."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from asap_sync import wire
from asap_sync.client import (
    Client,
    InvalidAmountError,
    PlatformSystemError,
    RetryPolicy,
    TransportError,
)

from .fakes import FakeClock, FakePlatform, RecordingSleep
from .test_client_sync import a_payment

Code = wire.ResultCode


class AdvancingSleep(RecordingSleep):
    """Sleeping moves the fake clock, so each attempt gets its own Request-Time."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__()
        self.clock = clock

    def __call__(self, seconds: float) -> None:
        super().__call__(seconds)
        self.clock.now += timedelta(seconds=max(seconds, 1))


def test_a_system_error_is_retried_under_the_same_request_id_and_body(
    client: Client, platform: FakePlatform, sleep: RecordingSleep
) -> None:
    platform.script(Code.SYSTEM_ERROR, Code.SYSTEM_ERROR)
    result = client.sync(a_payment())
    assert result.attempts == 3
    assert {r.request_id for r in platform.received} == {"T-1"}
    assert len({r.body for r in platform.received}) == 1
    assert platform.accepted == {"T-1": 1}


def test_each_attempt_is_signed_afresh_with_a_new_request_time(
    client: Client, platform: FakePlatform, clock: FakeClock
) -> None:
    client._sleep = AdvancingSleep(clock)
    platform.script(Code.SYSTEM_ERROR)
    client.sync(a_payment())
    first, second = platform.received
    assert first.request_time != second.request_time
    assert first.signature != second.signature


def test_network_errors_and_timeouts_are_retried(client: Client, platform: FakePlatform) -> None:
    platform.script(httpx.ConnectError("refused"), httpx.ReadTimeout("slow"))
    assert client.sync(a_payment()).attempts == 3


def test_traffic_limit_and_gateway_statuses_are_retried(
    client: Client, platform: FakePlatform
) -> None:
    platform.script(Code.REQUEST_TRAFFIC_EXCEED_LIMIT, lambda: httpx.Response(503))
    assert client.sync(a_payment()).attempts == 3


def test_a_non_retryable_status_is_a_transport_error_at_once(
    client: Client, platform: FakePlatform
) -> None:
    platform.script(lambda: httpx.Response(404, text="not here"))
    with pytest.raises(TransportError) as caught:
        client.sync(a_payment())
    assert caught.value.status_code == 404
    assert caught.value.attempts == 1


def test_business_rejections_are_never_retried(
    client: Client, platform: FakePlatform, sleep: RecordingSleep
) -> None:
    platform.script(Code.INVALID_AMOUNT)
    with pytest.raises(InvalidAmountError):
        client.sync(a_payment())
    assert len(platform.received) == 1
    assert sleep.delays == []


def test_retries_stop_after_max_attempts_with_the_last_error(
    client: Client, platform: FakePlatform
) -> None:
    platform.script(*[Code.SYSTEM_ERROR] * 10)
    with pytest.raises(PlatformSystemError) as caught:
        client.sync(a_payment())
    assert caught.value.attempts == 4
    assert len(platform.received) == 4


def test_backoff_doubles_and_is_capped(
    client: Client, platform: FakePlatform, sleep: RecordingSleep
) -> None:
    platform.script(*[httpx.ConnectError("down")] * 10)
    with pytest.raises(TransportError):
        client.sync(a_payment())
    # initial 1s, cap 3s, random()=0.5 gives three quarters of each ceiling
    assert sleep.delays == [0.75, 1.5, 2.25]


def test_backoff_jitter_stays_between_half_and_all_of_the_ceiling() -> None:
    policy = RetryPolicy(initial_delay=0.5, max_delay=8.0)
    for attempt in range(1, 12):
        ceiling = min(8.0, 0.5 * 2 ** (attempt - 1))
        assert policy.delay(attempt, lambda: 0.0) == ceiling / 2
        assert policy.delay(attempt, lambda: 1.0) == ceiling


def test_a_retry_policy_needs_at_least_one_attempt() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        RetryPolicy(max_attempts=0)


def test_a_success_after_a_lost_answer_is_counted_once_by_the_platform(
    client: Client, platform: FakePlatform
) -> None:
    real = platform.handle

    def lose_first_answer(request: httpx.Request) -> httpx.Response:
        response = real(request)
        if len(platform.received) == 1:
            raise httpx.ReadTimeout("answer lost")
        return response

    client._http._transport = httpx.MockTransport(lose_first_answer)
    assert client.sync(a_payment()).attempts == 2
    assert platform.accepted == {"T-1": 1}
