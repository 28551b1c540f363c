"""Drive the official Alipay+ Python SDK (global-open-sdk-python 1.7.1) over stdin/stdout.

Run by ``.cache/official-alipay-sdk-venv/bin/python`` (see ``scripts/official-sdk-env``),
never imported by ``asap_sync``. Reads one JSON object, prints one JSON object; exits 1 on a
malformed request.

    {"op": "sign", method, path, clientId, time, body, privateKey}       -> {"signature": str}
    {"op": "verify", method, path, clientId, time, body, signature, publicKey} -> {"ok": bool}
    {"op": "check_signature", ... same fields as verify ...}             -> {"ok": bool}
    {"op": "batch", "items": [<any of the above>]}                       -> {"results": [...]}

What the official functions do (read from their 1.7.1 source):

- ``com.alipay.ams.api.tools.signature_tool.sign(http_method, path, client_id, req_time_str,
  req_body, merchant_private_key)`` signs ``"<method> <path>\\n<client_id>.<time>.<body>"``
  (UTF-8, body verbatim) with RSASSA-PKCS1-v1_5/SHA-256 and returns the base64 signature
  **URL-encoded** with ``quote_plus`` (``+`` -> ``%2B``, ``/`` -> ``%2F``, ``=`` -> ``%3D``): the
  bare value, not the ``algorithm=...,signature=...`` header. The key is base64 (PKCS#8 works)
  or PEM; missing ``RSA PRIVATE KEY`` PEM markers are added.
- ``signature_tool.verify(http_method, path, client_id, rsp_time_str, rsp_body, signature,
  alipay_public_key)`` (for responses) takes the bare **URL-encoded** value and decodes it with
  ``unquote_plus``, so a raw base64 value containing ``+`` fails. The key is SPKI base64 or PEM.
  It returns True or raises (``rsa.pkcs1.VerificationError``, ``binascii.Error``, ...); python-rsa
  takes the hash from the signature, so SHA-256 is not pinned.
- ``com.alipay.ams.api.tools.webhook_tool.check_signature(http_method, path, client_id,
  req_time_str, req_body, signature, alipay_public_key)`` (for requests) takes the whole
  Signature **header**, keeps what follows the first ``signature=`` (case-sensitive) and calls
  ``verify``; without ``signature=`` it raises ``AlipayApiException``.

Here a raise from verify/check_signature becomes ``{"ok": false, "error": "<Type>: <message>"}``.
"""

import json
import sys

from com.alipay.ams.api.tools.signature_tool import sign, verify
from com.alipay.ams.api.tools.webhook_tool import check_signature


def _content(item):
    return item["method"], item["path"], item["clientId"], item["time"], item["body"]


def _verdict(check, item):
    args = (*_content(item), item["signature"], item["publicKey"])
    try:
        return {"ok": bool(check(*args))}
    except Exception as exc:  # the SDK reports a bad signature by raising
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}


OPS = {
    "sign": lambda item: {"signature": sign(*_content(item), item["privateKey"])},
    "verify": lambda item: _verdict(verify, item),
    "check_signature": lambda item: _verdict(check_signature, item),
}


def handle(request):
    if request.get("op") == "batch":
        return {"results": [OPS[item["op"]](item) for item in request["items"]]}
    return OPS[request["op"]](request)


def main():
    try:
        result = handle(json.load(sys.stdin.buffer))
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        sys.exit(f"bridge: malformed request: {type(exc).__name__}: {exc}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
