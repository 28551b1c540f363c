"""The Alipay+ wire conventions shared by the server and the merchant SDK."""

from asap_sync.wire.codes import ResultCode
from asap_sync.wire.keys import (
    KeyFormatError,
    generate_private_key,
    load_private_key,
    load_public_key,
    private_key_base64,
    private_key_pem,
    public_key_base64,
    public_key_pem,
)
from asap_sync.wire.messages import (
    ENDPOINT_PATH,
    BodyError,
    ExtendInfo,
    GoodsInfo,
    Price,
    SyncRequest,
    SyncResult,
    dump_sync_body,
    parse_sync_body,
    parse_sync_result,
)
from asap_sync.wire.request_time import (
    RequestTimeError,
    format_response_time,
    parse_request_time,
    within_window,
)
from asap_sync.wire.signature_header import (
    SignatureHeader,
    SignatureHeaderError,
    format_signature_header,
    parse_key_version,
    parse_signature_header,
)
from asap_sync.wire.signing import sign, signing_content, verify

__all__ = [
    "ENDPOINT_PATH",
    "BodyError",
    "ExtendInfo",
    "GoodsInfo",
    "KeyFormatError",
    "Price",
    "RequestTimeError",
    "ResultCode",
    "SignatureHeader",
    "SignatureHeaderError",
    "SyncRequest",
    "SyncResult",
    "dump_sync_body",
    "format_response_time",
    "format_signature_header",
    "generate_private_key",
    "load_private_key",
    "load_public_key",
    "parse_key_version",
    "parse_request_time",
    "parse_signature_header",
    "parse_sync_body",
    "parse_sync_result",
    "private_key_base64",
    "private_key_pem",
    "public_key_base64",
    "public_key_pem",
    "sign",
    "signing_content",
    "verify",
    "within_window",
]
