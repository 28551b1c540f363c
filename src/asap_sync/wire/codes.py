"""The public catalogue of result codes, with the messages of the API documentation."""

from __future__ import annotations

import enum


class ResultCode(enum.StrEnum):
    """Every ``errorCode`` the endpoint can answer (plus ``SUCCESS`` for completeness)."""

    SUCCESS = "SUCCESS"
    METHOD_NOT_SUPPORTED = "METHOD_NOT_SUPPORTED"
    MEDIA_TYPE_NOT_ACCEPTABLE = "MEDIA_TYPE_NOT_ACCEPTABLE"
    REQUEST_PARAM_ILLEGAL = "REQUEST_PARAM_ILLEGAL"
    INVALID_CLIENT = "INVALID_CLIENT"
    KEY_NOT_FOUND = "KEY_NOT_FOUND"
    INVALID_SIGNATURE = "INVALID_SIGNATURE"
    REQUEST_TRAFFIC_EXCEED_LIMIT = "REQUEST_TRAFFIC_EXCEED_LIMIT"
    ORDER_NOT_EXIST = "ORDER_NOT_EXIST"
    ORDER_STATUS_INVALID = "ORDER_STATUS_INVALID"
    CURRENCY_NOT_SUPPORT = "CURRENCY_NOT_SUPPORT"
    INVALID_AMOUNT = "INVALID_AMOUNT"
    INVALID_MERCHANT = "INVALID_MERCHANT"
    INVALID_CONTRACT = "INVALID_CONTRACT"
    SYSTEM_ERROR = "SYSTEM_ERROR"
    IDEMPOTENCY_EXCEPTION = "IDEMPOTENCY_EXCEPTION"
    GOODS_CALL_BACK_TIME_LIMIT = "GOODS_CALL_BACK_TIME_LIMIT"
    TRANS_CALL_BACK_TIME_LIMIT = "TRANS_CALL_BACK_TIME_LIMIT"

    @property
    def message(self) -> str:
        """The catalogue's message for this code."""
        return _MESSAGES[self][0]

    @property
    def further_action(self) -> str:
        """What the catalogue tells a merchant to do about this code."""
        return _MESSAGES[self][1]

    @property
    def retryable(self) -> bool:
        """True where sending the same request again may succeed without changing it."""
        return self in (ResultCode.SYSTEM_ERROR, ResultCode.REQUEST_TRAFFIC_EXCEED_LIMIT)


_MESSAGES: dict[ResultCode, tuple[str, str]] = {
    ResultCode.SUCCESS: ("Success.", "N/A"),
    ResultCode.METHOD_NOT_SUPPORTED: (
        "The HTTP method is not supported.",
        "Send the request with POST.",
    ),
    ResultCode.MEDIA_TYPE_NOT_ACCEPTABLE: (
        "The media type is not acceptable.",
        "Send the body as JSON with Content-Type: application/json; charset=UTF-8.",
    ),
    ResultCode.REQUEST_PARAM_ILLEGAL: (
        "Parameter exception.",
        "Check the parameter values in the request message and recall the API.",
    ),
    ResultCode.INVALID_CLIENT: (
        "The client is not valid.",
        "Check the Client-Id header; contact the ASAP team if the client should exist.",
    ),
    ResultCode.KEY_NOT_FOUND: (
        "The key is not found.",
        "Check the keyVersion of the Signature header against your registered keys.",
    ),
    ResultCode.INVALID_SIGNATURE: (
        "The signature is invalid.",
        "Sign '<METHOD> <PATH>\\n<Client-Id>.<Request-Time>.<body>' with RSA256.",
    ),
    ResultCode.REQUEST_TRAFFIC_EXCEED_LIMIT: (
        "The request traffic exceeds the limit.",
        "Slow down and retry later with the same requestId.",
    ),
    ResultCode.ORDER_NOT_EXIST: (
        "The original transaction information does not exist.",
        "Please confirm that the transaction ID is correct and call the API again.",
    ),
    ResultCode.ORDER_STATUS_INVALID: (
        "You cannot update the product information as the commission for the current "
        "transaction is either still processing or has already been assigned.",
        "For any errors in the transmitted transaction information, please contact the ASAP team.",
    ),
    ResultCode.CURRENCY_NOT_SUPPORT: ("Only HKD is currently supported.", "N/A"),
    ResultCode.INVALID_AMOUNT: (
        "The cost amount must not be significantly greater than the transaction amount.",
        "The current threshold is 2000 HKD. For any adjustments, please contact the ASAP team.",
    ),
    ResultCode.INVALID_MERCHANT: (
        "The merchant information must match that in the transaction.",
        "Please verify the merchant information and recall the API.",
    ),
    ResultCode.INVALID_CONTRACT: (
        "The commission contract is not within the validity period",
        "Please check if the currently signed CPS contract is still within its validity period.",
    ),
    ResultCode.SYSTEM_ERROR: (
        "System exception.",
        "It is recommended that you contact ASAP team to troubleshoot the issue.",
    ),
    ResultCode.IDEMPOTENCY_EXCEPTION: ("Repeated requests are inconsistent.", "N/A"),
    ResultCode.GOODS_CALL_BACK_TIME_LIMIT: (
        "The goods information return time exceeds the maximum limit.",
        "This transaction will not be processed. If you have questions, please contact the "
        "ASAP team.",
    ),
    ResultCode.TRANS_CALL_BACK_TIME_LIMIT: (
        "The transaction information return time exceeds the maximum time limit.",
        "The default time limit is 6 months. This transaction will not be processed. If you "
        "have questions, please contact the ASAP team.",
    ),
}
