"""The error hierarchy: one base, a class per result code, retryability."""

from __future__ import annotations

import pytest

from asap_sync import wire
from asap_sync.client import (
    IdempotencyError,
    PlatformSystemError,
    RejectedError,
    RequestTrafficExceedLimitError,
    SyncError,
    TransportError,
)
from asap_sync.client._errors import rejection_for

CODES = [c for c in wire.ResultCode if c is not wire.ResultCode.SUCCESS]


@pytest.mark.parametrize("code", CODES, ids=str)
def test_every_result_code_has_its_own_error_class(code: wire.ResultCode) -> None:
    error = rejection_for(code.value, "ctx", request_id="r", attempts=1)
    assert type(error) is not RejectedError
    assert isinstance(error, SyncError)
    assert error.code == code.value
    assert error.result_code is code
    assert error.further_action == code.further_action
    assert str(error) == f"{code.value}: ctx"


def test_only_system_error_and_traffic_limit_are_retryable_rejections() -> None:
    retryable = {
        c for c in CODES if rejection_for(c.value, None, request_id=None, attempts=1).retryable
    }
    assert retryable == {wire.ResultCode.SYSTEM_ERROR, wire.ResultCode.REQUEST_TRAFFIC_EXCEED_LIMIT}
    assert PlatformSystemError().retryable
    assert RequestTrafficExceedLimitError().retryable
    assert not IdempotencyError().retryable


def test_an_unknown_code_is_kept_as_text_on_the_base_rejection() -> None:
    error = rejection_for("NEW_CODE_2027", "later", request_id="r", attempts=1)
    assert type(error) is RejectedError
    assert error.code == "NEW_CODE_2027"
    assert not error.retryable


def test_transport_errors_say_whether_a_retry_may_help() -> None:
    assert TransportError("down").retryable
    assert not TransportError("404", status_code=404, retryable=False).retryable
