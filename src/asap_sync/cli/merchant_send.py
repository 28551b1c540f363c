"""``asap-sync merchant-side send``: one sync from a JSON file or flags, exit status by outcome."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from asap_sync import wire
from asap_sync.cli.conventions import Exit, JsonOption, bad_input, fail, print_json
from asap_sync.cli.display import console
from asap_sync.cli.merchant_common import (
    Attempts,
    BaseUrl,
    ClientId,
    KeyVersion,
    PlatformKey,
    PrivateKey,
    Timeout,
    make_client,
)
from asap_sync.client import (
    Client,
    InvalidSyncError,
    MalformedResponseError,
    ResponseSignatureError,
    SyncError,
    TransportError,
    row_from_mapping,
)

FROM_FILE = "from FILE"


def send(
    base_url: BaseUrl,
    client_id: ClientId,
    private_key: PrivateKey,
    platform_public_key: PlatformKey,
    file: Annotated[
        Path | None,
        typer.Argument(
            help="A JSON body (wire field names); flags override it.",
            show_default="none: flags only",
        ),
    ] = None,
    key_version: KeyVersion = "1",
    merchant_id: Annotated[
        str | None, typer.Option("--merchant-id", show_default=FROM_FILE)
    ] = None,
    out_trans_id: Annotated[
        str | None, typer.Option("--out-trans-id", show_default=FROM_FILE)
    ] = None,
    request_id: Annotated[
        str | None,
        typer.Option("--request-id", help="The idempotency key.", show_default="the outTransId"),
    ] = None,
    trans_date: Annotated[
        str | None,
        typer.Option("--trans-date", help="ISO 8601 with offset.", show_default=FROM_FILE),
    ] = None,
    entity_type: Annotated[
        str | None, typer.Option("--entity-type", show_default=FROM_FILE)
    ] = None,
    entity_id: Annotated[str | None, typer.Option("--entity-id", show_default=FROM_FILE)] = None,
    direction: Annotated[
        str | None, typer.Option("--direction", help="pay or refund.", show_default=FROM_FILE)
    ] = None,
    origin_trans_id: Annotated[
        str | None, typer.Option("--origin-trans-id", show_default=FROM_FILE)
    ] = None,
    amount: Annotated[
        str | None, typer.Option("--amount", help="Minor units: 24800.", show_default=FROM_FILE)
    ] = None,
    amount_hkd: Annotated[
        str | None, typer.Option("--amount-hkd", help="HKD: 248.00.", show_default=FROM_FILE)
    ] = None,
    goods: Annotated[
        list[str] | None,
        typer.Option("--goods", help="CODE:MINOR_UNITS[:NAME], repeatable.", show_default="none"),
    ] = None,
    attempts: Attempts = 4,
    timeout: Timeout = 10.0,
    as_json: JsonOption = False,
) -> None:
    """Send one sync and print the verified result; the exit status tells the outcome."""
    client = make_client(
        base_url,
        client_id,
        private_key,
        platform_public_key,
        key_version,
        attempts=attempts,
        timeout=timeout,
    )
    with client:
        data = _load_body(file)
        flags = {
            "merchantId": merchant_id,
            "outTransId": out_trans_id,
            "requestId": request_id,
            "transDate": trans_date,
            "entityType": entity_type,
            "entityId": entity_id,
            "transDirection": direction,
            "originTransId": origin_trans_id,
            "tradeAmt": amount,
            "tradeAmtHkd": amount_hkd,
        }
        data.update({k: v for k, v in flags.items() if v is not None})
        data.update(_goods_flags(goods or []))
        row = row_from_mapping(0, data)
        if row.request is None:
            bad_input(f"{InvalidSyncError.code}: {row.error} (nothing was sent)")
        _send_and_report(client, row.request, as_json)


def _load_body(file: Path | None) -> dict[str, Any]:
    if file is None:
        return {}
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        bad_input(f"cannot read {file}: {exc.strerror}")
    except ValueError as exc:
        bad_input(f"{file} is not JSON: {exc}")
    if not isinstance(data, dict):
        bad_input(f"{file} must hold one JSON object")
    return data


def _goods_flags(specs: list[str]) -> dict[str, str]:
    columns: dict[str, str] = {}
    for n, spec in enumerate(specs, start=1):
        code, _, rest = spec.partition(":")
        price, _, name = rest.partition(":")
        columns.update({f"goods{n}_code": code, f"goods{n}_price": price, f"goods{n}_name": name})
    return columns


def _send_and_report(client: Client, request: wire.SyncRequest, as_json: bool) -> None:
    try:
        response = client.sync(request)
    except SyncError as exc:
        result = {**exc.to_dict(), "outTransId": request.out_trans_id}
        if not as_json:
            _report(result, as_json=False)
        fail(_failure(exc), _exit_for(exc), result)
    _report(response.to_dict(), as_json)


def _failure(exc: SyncError) -> str:
    if isinstance(exc, TransportError):
        return (
            f"{exc.code}: no trustworthy answer after {exc.attempts} attempts (safe to send again)"
        )
    if isinstance(exc, ResponseSignatureError | MalformedResponseError):
        return f"{exc.code}: the answer is not trustworthy (safe to send again)"
    return f"the platform answered {exc.code}"


def _exit_for(exc: SyncError) -> Exit:
    if isinstance(exc, ResponseSignatureError | MalformedResponseError):
        return Exit.BAD_ANSWER
    if isinstance(exc, TransportError):
        return Exit.TRANSPORT
    return Exit.REFUSED


def _report(payload: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(payload)
        return
    out = console()
    style = "green" if payload["code"] == "SUCCESS" else "red"
    out.print(f"[{style}]{payload['code']}[/{style}]")
    for key, value in payload.items():
        if key != "code" and value is not None:
            out.print(f"  {key}: {value}", markup=False)
