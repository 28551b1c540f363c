"""Every broken rule is an exception named after the rule, carrying its public result code."""

from __future__ import annotations

from asap_sync.wire.codes import ResultCode


class RuleViolation(Exception):
    """Base of all business rejections: ``code`` goes on the wire, ``context`` tells what to fix."""

    code: ResultCode = ResultCode.SYSTEM_ERROR

    def __init__(self, context: str | None = None) -> None:
        self.context = context or self.code.message
        super().__init__(self.context)


class IllegalParameter(RuleViolation):
    code = ResultCode.REQUEST_PARAM_ILLEGAL


class IdempotencyConflict(RuleViolation):
    code = ResultCode.IDEMPOTENCY_EXCEPTION


class MerchantNotLinked(RuleViolation):
    code = ResultCode.INVALID_MERCHANT


class MerchantMismatch(RuleViolation):
    code = ResultCode.INVALID_MERCHANT


class TransactionTooLate(RuleViolation):
    code = ResultCode.TRANS_CALL_BACK_TIME_LIMIT


class ImmutableFieldChanged(RuleViolation):
    code = ResultCode.REQUEST_PARAM_ILLEGAL


class CommissionNotPending(RuleViolation):
    code = ResultCode.ORDER_STATUS_INVALID


class GoodsUpdateTooLate(RuleViolation):
    code = ResultCode.GOODS_CALL_BACK_TIME_LIMIT


class OriginNotFound(RuleViolation):
    code = ResultCode.ORDER_NOT_EXIST


class RefundExceedsOrigin(RuleViolation):
    code = ResultCode.INVALID_AMOUNT


class NoValidContract(RuleViolation):
    code = ResultCode.INVALID_CONTRACT


class GoodsExceedTradeAmount(RuleViolation):
    code = ResultCode.INVALID_AMOUNT


class ContractOverlap(ValueError):
    """An operator tried to record a contract that overlaps another of the same merchant."""
