"""``asap-sync merchant send``: one sync from a JSON file and/or flags, exit status by outcome."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from asap_sync import wire
from asap_sync.cli.merchant_common import (
    AsJson,
    Attempts,
    BaseUrl,
    ClientId,
    Exit,
    KeyVersion,
    PlatformKey,
    PrivateKey,
    Timeout,
    console,
    errors,
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


def send(
    base_url: BaseUrl,
    client_id: ClientId,
    private_key: PrivateKey,
    platform_public_key: PlatformKey,
    file: Annotated[
        Path | None, typer.Argument(help="A JSON body (wire field names); flags override it.")
    ] = None,
    key_version: KeyVersion = "1",
    merchant_id: Annotated[str | None, typer.Option("--merchant-id")] = None,
    out_trans_id: Annotated[str | None, typer.Option("--out-trans-id")] = None,
    request_id: Annotated[
        str | None, typer.Option("--request-id", help="Default: the outTransId.")
    ] = None,
    trans_date: Annotated[
        str | None, typer.Option("--trans-date", help="ISO 8601 with offset.")
    ] = None,
    entity_type: Annotated[str | None, typer.Option("--entity-type")] = None,
    entity_id: Annotated[str | None, typer.Option("--entity-id")] = None,
    direction: Annotated[str | None, typer.Option("--direction", help="pay or refund.")] = None,
    origin_trans_id: Annotated[str | None, typer.Option("--origin-trans-id")] = None,
    amount: Annotated[str | None, typer.Option("--amount", help="Minor units: 24800.")] = None,
    amount_hkd: Annotated[str | None, typer.Option("--amount-hkd", help="HKD: 248.00.")] = None,
    goods: Annotated[
        list[str] | None, typer.Option("--goods", help="CODE:MINOR_UNITS[:NAME], repeatable.")
    ] = None,
    attempts: Attempts = 4,
    timeout: Timeout = 10.0,
    as_json: AsJson = False,
) -> None:
    """Send one sync and print the verified result; the exit status tells the outcome."""
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
        _report({"code": InvalidSyncError.code, "context": row.error}, as_json)
        raise typer.Exit(Exit.BAD_INPUT)
    with make_client(
        base_url,
        client_id,
        private_key,
        platform_public_key,
        key_version,
        attempts=attempts,
        timeout=timeout,
    ) as client:
        status = _send_and_report(client, row.request, as_json)
    raise typer.Exit(status)


def _load_body(file: Path | None) -> dict[str, Any]:
    if file is None:
        return {}
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        errors.print(f"[red]cannot read {file}:[/red] {exc}")
        raise typer.Exit(Exit.BAD_INPUT) from exc
    if not isinstance(data, dict):
        errors.print(f"[red]{file} must hold one JSON object[/red]")
        raise typer.Exit(Exit.BAD_INPUT)
    return data


def _goods_flags(specs: list[str]) -> dict[str, str]:
    columns: dict[str, str] = {}
    for n, spec in enumerate(specs, start=1):
        code, _, rest = spec.partition(":")
        price, _, name = rest.partition(":")
        columns.update({f"goods{n}_code": code, f"goods{n}_price": price, f"goods{n}_name": name})
    return columns


def _send_and_report(client: Client, request: wire.SyncRequest, as_json: bool) -> Exit:
    try:
        response = client.sync(request)
    except SyncError as exc:
        _report({**exc.to_dict(), "outTransId": request.out_trans_id}, as_json)
        return _exit_for(exc)
    _report(response.to_dict(), as_json)
    return Exit.OK


def _exit_for(exc: SyncError) -> Exit:
    if isinstance(exc, ResponseSignatureError | MalformedResponseError):
        return Exit.BAD_ANSWER
    if isinstance(exc, TransportError):
        return Exit.TRANSPORT
    return Exit.REJECTED


def _report(payload: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(payload, ensure_ascii=False))
        return
    style = "green" if payload["code"] == "SUCCESS" else "red"
    console.print(f"[{style}]{payload['code']}[/{style}]")
    for key, value in payload.items():
        if key != "code" and value is not None:
            console.print(f"  {key}: {value}")
