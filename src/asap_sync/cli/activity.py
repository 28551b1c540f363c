"""What an operator watches: recent rejections and recent transactions."""

from __future__ import annotations

from typing import Annotated

import typer

from asap_sync.cli.conventions import JsonOption, new_app, print_json
from asap_sync.cli.display import print_table, show_time
from asap_sync.cli.operator_session import (
    DatabaseUrlOption,
    DataDirOption,
    open_operator,
    record,
)
from asap_sync.domain.money import format_e4_hkd, format_minor_hkd
from asap_sync.service.admin import ActivityFilter, recent_rejections, recent_transactions

rejections_app = new_app("Rejected requests (kept apart from the ledger).")
transactions_app = new_app("Accepted transactions and their commission.")

MerchantFilter = Annotated[
    str | None, typer.Option("--merchant-id", help="Only this merchantId.", show_default="all")
]
ClientFilter = Annotated[
    str | None, typer.Option("--client-id", help="Only this Client-Id.", show_default="all")
]
LimitOption = Annotated[int, typer.Option(help="How many, newest first.", min=1)]


@rejections_app.command("list")
def rejections_list(
    merchant_id: MerchantFilter = None,
    client_id: ClientFilter = None,
    limit: LimitOption = 20,
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """List the newest rejections: when, who, requestId, result code and what to fix."""
    which = ActivityFilter(merchant_id=merchant_id, client_id=client_id, limit=limit)
    with open_operator(data_dir, database_url) as op:
        found = recent_rejections(op.sessions, which)
        zone = op.zone
    if as_json:
        print_json([record(r) for r in found])
        return
    print_table(
        "Rejections",
        ["received", "client", "source", "merchant", "requestId", "code", "context"],
        [
            [
                show_time(r.received_at, zone),
                r.client_id or "-",
                r.source or "-",
                r.merchant_id or "-",
                r.request_id or "-",
                r.code,
                r.context,
            ]
            for r in found
        ],
        zone=zone,
    )


@transactions_app.command("list")
def transactions_list(
    merchant_id: MerchantFilter = None,
    client_id: ClientFilter = None,
    limit: LimitOption = 20,
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """List the newest transactions: status, period, amount and commission (HKD).

    Commission is the exact total of the active lines (six decimals); statements round it.
    """
    which = ActivityFilter(merchant_id=merchant_id, client_id=client_id, limit=limit)
    with open_operator(data_dir, database_url) as op:
        found = recent_transactions(op.sessions, which)
        zone = op.zone
    if as_json:
        print_json([record(t) for t in found])
        return
    print_table(
        "Transactions",
        ["accepted", "merchant", "outTransId", "dir", "status", "period", "amount", "commission"],
        [
            [
                show_time(t.accepted_at, zone),
                t.merchant_id,
                t.out_trans_id,
                t.direction,
                t.status,
                t.period,
                format_minor_hkd(t.amount_minor),
                format_e4_hkd(t.commission_e4),
            ]
            for t in found
        ],
        zone=zone,
    )
