"""The OpenAPI 3.1 document of the public listener, served at ``GET /openapi.json``.

Schemas come from the wire models themselves, so the document cannot drift from what the
endpoint parses; the signature scheme, which OpenAPI cannot express, is described in words.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any

from asap_sync.wire import ResultCode, SyncRequest, SyncResult
from asap_sync.wire.messages import ENDPOINT_PATH

REF = "#/components/schemas/{model}"

SIGNATURE_SCHEME = """\
Every request and every answer is signed with RSASSA-PKCS1-v1_5 over SHA-256 (RSA keys of 2048 \
bits or more).

**Request.** The merchant signs the UTF-8 bytes of

    <METHOD> <PATH>\\n<Client-Id>.<Request-Time>.<raw body>

(one space, one line feed, dots; the body exactly as sent, never re-serialised) with its private \
key and sends `Signature: algorithm=RSA256,keyVersion=<n>,signature=<url-encoded base64>`. The \
algorithm token is case-insensitive (`RSA256`, `sha256withrsa`; absent means RSA256); without \
`keyVersion` the client's newest active key verifies. `Request-Time` is ISO 8601 with an offset \
(or epoch milliseconds) and must be within the freshness window (default ±15 minutes).

**Answer.** Every answer is HTTP 200 with a JSON body, rejections included, signed by the \
platform key over

    <METHOD> <PATH>\\n<client-id>.<response-time>.<response body>

with the request's method and path and the answer's `client-id` and `response-time` headers; the \
`signature` header has the same form as the request's. Merchants verify it with the platform \
public key (`asap-sync platform-key show`). No other header is signed: `x-request-id` only \
correlates the answer with the server's logs.
"""

_SAMPLE_BODY: dict[str, Any] = {
    "merchantId": "2160120033934460",
    "subMerchantId": "3858195171",
    "requestId": "550e8400-e29b-41d4-a716-446655440000",
    "outTransId": "2160120033934460_RENEWAL20250909105104279487",
    "transId": "",
    "entityId": "12345678900",
    "entityType": "phone",
    "transType": "transaction",
    "transDate": "2025-04-05T06:30:00Z",
    "transStatus": "SUCCESS",
    "tradeAmt": '{"currency":"HKD","value":"24800"}',
    "extendInfo": '{"goodsInfoList":[{"goodsId":"2160120033934460_RENEWAL20250909105104279487",'
    '"goodsCode":"RENEWAL","goodsName":"Contract renewal",'
    '"goodsPrice":{"currency":"HKD","value":"24800"}}]}',
}

# What a merchant typically reads in errorContext; codes missing here carry the catalogue's message.
_CONTEXTS: dict[ResultCode, str] = {
    ResultCode.REQUEST_PARAM_ILLEGAL: "tradeAmt.value: must be a natural number in minor units",
    ResultCode.METHOD_NOT_SUPPORTED: "GET: use POST",
    ResultCode.INVALID_CLIENT: "Client-Id 211020000000000000044 is unknown",
    ResultCode.KEY_NOT_FOUND: "keyVersion 3 is not an active key of 211020000000000000044",
    ResultCode.INVALID_SIGNATURE: "signature does not verify over '<METHOD> <PATH>\\n"
    "<Client-Id>.<Request-Time>.<body>' with the registered key",
    ResultCode.CURRENCY_NOT_SUPPORT: "tradeAmt.currency: 'USD' is not supported; only HKD is",
    ResultCode.IDEMPOTENCY_EXCEPTION: (
        "tradeAmt.value, extendInfo.goodsInfoList[0].goodsPrice.value"
    ),
}


def package_version() -> str:
    """The installed asap-sync version."""
    try:
        return version("asap-sync")
    except PackageNotFoundError:  # running from a source tree
        return "0+unknown"


def _strip_titles(node: Any) -> Any:
    """Pydantic's generated titles ("Merchantid") say nothing the property name does not."""
    if isinstance(node, dict):
        return {k: _strip_titles(v) for k, v in node.items() if k != "title"}
    if isinstance(node, list):
        return [_strip_titles(v) for v in node]
    return node


def _schemas() -> dict[str, Any]:
    request = SyncRequest.model_json_schema(by_alias=True, ref_template=REF)
    result = SyncResult.model_json_schema(by_alias=True, ref_template=REF, mode="serialization")
    schemas: dict[str, Any] = {**request.pop("$defs", {}), **result.pop("$defs", {})}
    for field, model in (("tradeAmt", "Price"), ("extendInfo", "ExtendInfo")):
        # Sent as an object or as a string holding that object's JSON; both mean the same.
        ref = {"$ref": REF.format(model=model)}
        request["properties"][field] = {
            "oneOf": [
                ref,
                {"type": "string", "contentMediaType": "application/json", "contentSchema": ref},
                {"type": "null"},
            ]
        }
    schemas["SyncRequest"], schemas["SyncResult"] = request, result
    cleaned: dict[str, Any] = _strip_titles(schemas)
    return cleaned


def _result_examples() -> dict[str, Any]:
    examples: dict[str, Any] = {}
    for code in ResultCode:
        value = (
            SyncResult.ok()
            if code is ResultCode.SUCCESS
            else SyncResult.failed(code, _CONTEXTS.get(code))
        )
        examples[code.value] = {
            "summary": code.message,
            "description": f"Further action: {code.further_action}",
            "value": value.model_dump(by_alias=True, exclude_none=True),
        }
    return examples


def _header(description: str, example: str) -> dict[str, Any]:
    return {
        "required": True,
        "description": description,
        "schema": {"type": "string"},
        "example": example,
    }


def _signed_operation() -> dict[str, Any]:
    request_headers = [
        (
            "Client-Id",
            "The client (merchant or ISV) whose key signed the request.",
            "211020000000000000044",
        ),
        (
            "Request-Time",
            "When the request was sent: ISO 8601 with an offset, or epoch milliseconds.",
            "2025-04-05T14:30:00+08:00",
        ),
        (
            "Signature",
            "`algorithm=RSA256,keyVersion=<n>,signature=<url-encoded base64>` over the "
            "request's signing content.",
            "algorithm=RSA256,keyVersion=1,signature=KrwDE9tL...%3D%3D",
        ),
    ]
    answer_headers = {
        "client-id": _header("The request's Client-Id.", "211020000000000000044"),
        "response-time": _header(
            "When the answer was signed (ISO 8601 with offset).", "2025-04-05T14:30:00.123+08:00"
        ),
        "signature": _header(
            "The platform's signature over the answer's signing content.",
            "algorithm=RSA256,keyVersion=1,signature=Vn3x...%3D",
        ),
        "x-request-id": {
            "description": "Correlates the answer with the server's log lines; not signed.",
            "schema": {"type": "string"},
        },
    }
    return {
        "operationId": "externalInfoSync",
        "summary": "Report a payment or a refund (externalInfoSync)",
        "description": SIGNATURE_SCHEME,
        "security": [{"alipaySignature": []}],
        "parameters": [
            {"name": name, "in": "header", **_header(text, example)}
            for name, text, example in request_headers
        ],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"$ref": REF.format(model="SyncRequest")},
                    "example": _SAMPLE_BODY,
                }
            },
        },
        "responses": {
            "200": {
                "description": (
                    "A signed answer: success, or a rejection with its errorCode. Every answer "
                    "of this endpoint is HTTP 200."
                ),
                "headers": answer_headers,
                "content": {
                    "application/json; charset=UTF-8": {
                        "schema": {"$ref": REF.format(model="SyncResult")},
                        "examples": _result_examples(),
                    }
                },
            }
        },
    }


def _probe(summary: str, description: str, codes: tuple[str, ...]) -> dict[str, Any]:
    status = {"$ref": REF.format(model="ProbeStatus")}
    return {
        "get": {
            "summary": summary,
            "description": description,
            "responses": {
                code: {
                    "description": "ready" if code == "200" else "not ready",
                    "content": {"application/json": {"schema": status}},
                }
                for code in codes
            },
        }
    }


PROBE_STATUS = {
    "type": "object",
    "required": ["status"],
    "properties": {
        "status": {"type": "string", "enum": ["ok", "unavailable"]},
        "checks": {
            "type": "object",
            "additionalProperties": {"type": "string"},
            "description": "Each check: `ok` or what is wrong.",
        },
    },
}


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of the signed endpoint and the probes."""
    schemas = {**_schemas(), "ProbeStatus": PROBE_STATUS}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "asap-sync: Alipay+ externalInfoSync",
            "version": package_version(),
            "summary": "Signed ingestion of CPS commission transactions.",
            "description": SIGNATURE_SCHEME,
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "paths": {
            ENDPOINT_PATH: {"post": _signed_operation()},
            "/livez": _probe("Liveness", "The process answers; checks nothing else.", ("200",)),
            "/readyz": _probe(
                "Readiness",
                "The database is reachable, its schema is the one this version needs and the "
                "platform signing key is loaded.",
                ("200", "503"),
            ),
        },
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "alipaySignature": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Signature",
                    "description": SIGNATURE_SCHEME,
                }
            },
        },
    }
