"""One error base class, :class:`SyncError`, with a subclass per failure.

A signed rejection from the platform raises the subclass named after its ``errorCode``
(:class:`OrderNotExistError` for ``ORDER_NOT_EXIST`` ...), all under :class:`RejectedError`.
Failures that never produced a trustworthy answer are :class:`TransportError` (network,
timeout, non-200 status), :class:`ResponseSignatureError` (unsigned or badly signed answer)
and :class:`MalformedResponseError` (a signed answer that is not a sync result).
"""

from __future__ import annotations

from asap_sync.wire import ResultCode


class SyncError(Exception):
    """Base of every SDK error: ``code`` (result code or local code) and ``context``."""

    code: str = "SYNC_ERROR"

    def __init__(
        self,
        context: str | None = None,
        *,
        code: str | None = None,
        request_id: str | None = None,
        attempts: int = 0,
    ) -> None:
        if code is not None:
            self.code = code
        self.context = context
        self.request_id = request_id
        self.attempts = attempts
        super().__init__(f"{self.code}: {context}" if context else self.code)

    @property
    def retryable(self) -> bool:
        """True when sending the same request again, unchanged, may succeed."""
        return False

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready summary (wire-style names)."""
        return {
            "code": self.code,
            "context": self.context,
            "requestId": self.request_id,
            "attempts": self.attempts,
            "retryable": self.retryable,
        }


class TransportError(SyncError):
    """No answer, a timeout, or a non-200 status: the platform may or may not have the sync.

    Safe to send again under the same requestId: the platform replays a bound success.
    """

    code = "TRANSPORT_ERROR"

    def __init__(
        self,
        context: str | None = None,
        *,
        status_code: int | None = None,
        retryable: bool = True,
        request_id: str | None = None,
        attempts: int = 0,
    ) -> None:
        super().__init__(context, request_id=request_id, attempts=attempts)
        self.status_code = status_code
        self._retryable = retryable

    @property
    def retryable(self) -> bool:
        return self._retryable


class ResponseSignatureError(SyncError):
    """The answer is unsigned, or its signature does not verify with the platform key."""

    code = "RESPONSE_SIGNATURE_INVALID"


class MalformedResponseError(SyncError):
    """The answer is signed but its body is not ``{"success", "invokeResult", ...}``."""

    code = "MALFORMED_RESPONSE"


class RejectedError(SyncError):
    """The platform answered, signed, with ``success: false``."""

    result_code: ResultCode | None = None

    @property
    def retryable(self) -> bool:
        return self.result_code is not None and self.result_code.retryable

    @property
    def further_action(self) -> str:
        """What the API catalogue advises for this code."""
        return self.result_code.further_action if self.result_code else "Contact the ASAP team."

    def to_dict(self) -> dict[str, object]:
        return {**super().to_dict(), "furtherAction": self.further_action}


class MethodNotSupportedError(RejectedError):
    """``METHOD_NOT_SUPPORTED``: The HTTP method is not supported."""

    code = "METHOD_NOT_SUPPORTED"
    result_code = ResultCode.METHOD_NOT_SUPPORTED


class MediaTypeNotAcceptableError(RejectedError):
    """``MEDIA_TYPE_NOT_ACCEPTABLE``: The media type is not acceptable."""

    code = "MEDIA_TYPE_NOT_ACCEPTABLE"
    result_code = ResultCode.MEDIA_TYPE_NOT_ACCEPTABLE


class RequestParamIllegalError(RejectedError):
    """``REQUEST_PARAM_ILLEGAL``: Parameter exception."""

    code = "REQUEST_PARAM_ILLEGAL"
    result_code = ResultCode.REQUEST_PARAM_ILLEGAL


class InvalidClientError(RejectedError):
    """``INVALID_CLIENT``: The client is not valid."""

    code = "INVALID_CLIENT"
    result_code = ResultCode.INVALID_CLIENT


class KeyNotFoundError(RejectedError):
    """``KEY_NOT_FOUND``: The key is not found."""

    code = "KEY_NOT_FOUND"
    result_code = ResultCode.KEY_NOT_FOUND


class InvalidSignatureError(RejectedError):
    """``INVALID_SIGNATURE``: The signature is invalid."""

    code = "INVALID_SIGNATURE"
    result_code = ResultCode.INVALID_SIGNATURE


class RequestTrafficExceedLimitError(RejectedError):
    """``REQUEST_TRAFFIC_EXCEED_LIMIT``: The request traffic exceeds the limit."""

    code = "REQUEST_TRAFFIC_EXCEED_LIMIT"
    result_code = ResultCode.REQUEST_TRAFFIC_EXCEED_LIMIT


class OrderNotExistError(RejectedError):
    """``ORDER_NOT_EXIST``: The original transaction information does not exist."""

    code = "ORDER_NOT_EXIST"
    result_code = ResultCode.ORDER_NOT_EXIST


class OrderStatusInvalidError(RejectedError):
    """``ORDER_STATUS_INVALID``: You cannot update the product information as the commission ..."""

    code = "ORDER_STATUS_INVALID"
    result_code = ResultCode.ORDER_STATUS_INVALID


class CurrencyNotSupportError(RejectedError):
    """``CURRENCY_NOT_SUPPORT``: Only HKD is currently supported."""

    code = "CURRENCY_NOT_SUPPORT"
    result_code = ResultCode.CURRENCY_NOT_SUPPORT


class InvalidAmountError(RejectedError):
    """``INVALID_AMOUNT``: The cost amount must not be significantly greater than the ..."""

    code = "INVALID_AMOUNT"
    result_code = ResultCode.INVALID_AMOUNT


class InvalidMerchantError(RejectedError):
    """``INVALID_MERCHANT``: The merchant information must match that in the transaction."""

    code = "INVALID_MERCHANT"
    result_code = ResultCode.INVALID_MERCHANT


class InvalidContractError(RejectedError):
    """``INVALID_CONTRACT``: The commission contract is not within the validity period"""

    code = "INVALID_CONTRACT"
    result_code = ResultCode.INVALID_CONTRACT


class PlatformSystemError(RejectedError):
    """``SYSTEM_ERROR``: System exception."""

    code = "SYSTEM_ERROR"
    result_code = ResultCode.SYSTEM_ERROR


class IdempotencyError(RejectedError):
    """``IDEMPOTENCY_EXCEPTION``: Repeated requests are inconsistent."""

    code = "IDEMPOTENCY_EXCEPTION"
    result_code = ResultCode.IDEMPOTENCY_EXCEPTION


class GoodsCallBackTimeLimitError(RejectedError):
    """``GOODS_CALL_BACK_TIME_LIMIT``: The goods information return time exceeds the maximum ..."""

    code = "GOODS_CALL_BACK_TIME_LIMIT"
    result_code = ResultCode.GOODS_CALL_BACK_TIME_LIMIT


class TransCallBackTimeLimitError(RejectedError):
    """``TRANS_CALL_BACK_TIME_LIMIT``: the transaction was sent too late."""

    code = "TRANS_CALL_BACK_TIME_LIMIT"
    result_code = ResultCode.TRANS_CALL_BACK_TIME_LIMIT


_BY_CODE: dict[str, type[RejectedError]] = {
    cls.code: cls
    for cls in (
        MethodNotSupportedError,
        MediaTypeNotAcceptableError,
        RequestParamIllegalError,
        InvalidClientError,
        KeyNotFoundError,
        InvalidSignatureError,
        RequestTrafficExceedLimitError,
        OrderNotExistError,
        OrderStatusInvalidError,
        CurrencyNotSupportError,
        InvalidAmountError,
        InvalidMerchantError,
        InvalidContractError,
        PlatformSystemError,
        IdempotencyError,
        GoodsCallBackTimeLimitError,
        TransCallBackTimeLimitError,
    )
}


def rejection_for(
    code: str | None, context: str | None, *, request_id: str | None, attempts: int
) -> RejectedError:
    """The error for a signed ``success: false`` answer; unknown codes keep their text."""
    cls = _BY_CODE.get(code or "", RejectedError)
    return cls(
        context,
        code=None if cls is not RejectedError else (code or "UNKNOWN"),
        request_id=request_id,
        attempts=attempts,
    )


class InvalidSyncError(SyncError, ValueError):
    """Checked before sending: the sync breaks a rule the platform would reject it for.

    ``context`` names the field and the rule, as the platform's ``errorContext`` would.
    """

    code = "INVALID_SYNC"
