"""The merchant SDK: build, sign and send externalInfoSync calls; verify the signed answers.

::

    from asap_sync.client import Client, Goods, Transaction

    with Client(
        "https://asap.example.com",
        client_id="211020000000000000044",
        private_key=open("merchant-private.pem").read(),
        platform_public_key=open("platform-public.pem").read(),
    ) as client:
        client.sync(Transaction(merchant_id="2160120033934460", out_trans_id="T1",
                                trans_date="2025-04-05T06:30:00Z", entity_type="phone",
                                entity_id="12345678900", amount=24800,
                                goods=[Goods(code="RENEWAL", price=24800)]))

Imports only :mod:`asap_sync.wire`, httpx and the standard library.
"""

from asap_sync.client._builder import Goods, Transaction, request_from_mapping
from asap_sync.client._bulk import (
    ALREADY_SUCCEEDED,
    INVALID_ROW,
    BulkReport,
    bulk_send,
    describe_code,
)
from asap_sync.client._client import AsyncClient, Client
from asap_sync.client._errors import (
    CurrencyNotSupportError,
    GoodsCallBackTimeLimitError,
    IdempotencyError,
    InvalidAmountError,
    InvalidClientError,
    InvalidContractError,
    InvalidMerchantError,
    InvalidSignatureError,
    InvalidSyncError,
    KeyNotFoundError,
    MalformedResponseError,
    MediaTypeNotAcceptableError,
    MethodNotSupportedError,
    OrderNotExistError,
    OrderStatusInvalidError,
    PlatformSystemError,
    RejectedError,
    RequestParamIllegalError,
    RequestTrafficExceedLimitError,
    ResponseSignatureError,
    SyncError,
    TransCallBackTimeLimitError,
    TransportError,
)
from asap_sync.client._ledger import (
    MAPPINGS,
    STATEMENT,
    TRANSACTIONS,
    ColumnMapping,
    Entry,
    detect_mapping,
    read_entries,
)
from asap_sync.client._money import Amount, AmountError, format_hkd, to_minor_units
from asap_sync.client._protocol import Credentials, RetryPolicy, SyncResponse
from asap_sync.client._reconcile import Difference, ReconcileReport, reconcile
from asap_sync.client._results import Outcome, ResultsFile
from asap_sync.client._rows import (
    FileFormat,
    Row,
    count_rows,
    detect_format,
    read_rows,
    row_from_mapping,
)

__all__ = [
    "ALREADY_SUCCEEDED",
    "INVALID_ROW",
    "MAPPINGS",
    "STATEMENT",
    "TRANSACTIONS",
    "Amount",
    "AmountError",
    "AsyncClient",
    "BulkReport",
    "Client",
    "ColumnMapping",
    "Credentials",
    "CurrencyNotSupportError",
    "Difference",
    "Entry",
    "FileFormat",
    "Goods",
    "GoodsCallBackTimeLimitError",
    "IdempotencyError",
    "InvalidAmountError",
    "InvalidClientError",
    "InvalidContractError",
    "InvalidMerchantError",
    "InvalidSignatureError",
    "InvalidSyncError",
    "KeyNotFoundError",
    "MalformedResponseError",
    "MediaTypeNotAcceptableError",
    "MethodNotSupportedError",
    "OrderNotExistError",
    "OrderStatusInvalidError",
    "Outcome",
    "PlatformSystemError",
    "ReconcileReport",
    "RejectedError",
    "RequestParamIllegalError",
    "RequestTrafficExceedLimitError",
    "ResponseSignatureError",
    "ResultsFile",
    "RetryPolicy",
    "Row",
    "SyncError",
    "SyncResponse",
    "TransCallBackTimeLimitError",
    "Transaction",
    "TransportError",
    "bulk_send",
    "count_rows",
    "describe_code",
    "detect_format",
    "detect_mapping",
    "format_hkd",
    "read_entries",
    "read_rows",
    "reconcile",
    "request_from_mapping",
    "row_from_mapping",
    "to_minor_units",
]
