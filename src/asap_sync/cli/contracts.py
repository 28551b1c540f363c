"""Operator commands for merchants' CPS contracts."""

from __future__ import annotations

from datetime import datetime, time, tzinfo
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer

from asap_sync.cli.approvals import AsOption, PasswordStdinOption, proposed, signed_in
from asap_sync.cli.conventions import JsonOption, input_checks, new_app, print_json
from asap_sync.cli.display import print_table
from asap_sync.cli.operator_session import (
    DatabaseUrlOption,
    DataDirOption,
    locate_checked,
    open_located,
)
from asap_sync.domain.model import Contract, Rule
from asap_sync.service.admin import (
    AdminError,
    NewContract,
    list_contracts,
    parse_moment,
    parse_rules,
)
from asap_sync.service.admin_contracts import validate_contract
from asap_sync.service.approval_ports import Proposal
from asap_sync.service.approvals import add_contract_or_propose, end_contract_or_propose

app = new_app("CPS contracts: validity period and commission rules per goodsCode.")

MomentHelp = "ISO date (midnight in the platform time zone) or datetime with offset"


@app.command("add")
def add(
    merchant_id: Annotated[str, typer.Option("--merchant-id", help="The merchantId.")],
    contract_id: Annotated[str, typer.Option("--contract-id", help="A unique contract id.")],
    valid_from: Annotated[str, typer.Option("--from", help=f"First moment: {MomentHelp}.")],
    valid_to: Annotated[
        str | None,
        typer.Option("--to", help=f"End, exclusive: {MomentHelp}.", show_default="open-ended"),
    ] = None,
    rules: Annotated[
        list[str] | None,
        typer.Option(
            "--rule",
            help="GOODS_CODE=rate:<basis points> or GOODS_CODE=fixed:<minor units per item>; "
            "repeat for each goodsCode (RENEWAL, NEW_CONTRACT).",
            show_default="none: every goods item earns --default-rate",
        ),
    ] = None,
    default_rate: Annotated[
        int,
        typer.Option(
            help="Rate in basis points of tradeAmt for a pay without goods, and of the price "
            "of a goods item whose code has no rule."
        ),
    ] = 0,
    goods_window_days: Annotated[
        int | None,
        typer.Option(help="Days after transDate that goods may be updated.", show_default="30"),
    ] = None,
    threshold: Annotated[
        int | None,
        typer.Option(
            help="How far goods may exceed tradeAmt, minor units.",
            show_default="200000 = 2000 HKD",
        ),
    ] = None,
    who: AsOption = None,
    password_stdin: PasswordStdinOption = False,
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """Record a contract. It may not overlap another contract of the same merchant.

    With two-person approval on, this proposes the contract instead (see `approvals`).
    """
    where = locate_checked(data_dir, database_url)
    zone = ZoneInfo(where.settings.timezone)
    with input_checks(AdminError):
        new = NewContract(
            contract_id=contract_id,
            merchant_id=merchant_id,
            valid_from=parse_moment(valid_from, zone),
            valid_to=None if valid_to is None else parse_moment(valid_to, zone),
            rules=parse_rules(rules or []),
            default_rate_bp=default_rate,
            goods_window_days=goods_window_days,
            amount_threshold_minor=threshold,
        )
        validate_contract(new)
    with open_located(where) as op:
        op, role = signed_in(op, who, password_stdin)
        contract = add_contract_or_propose(op.sessions, new, actor=op.actor, role=role)
    if isinstance(contract, Proposal):
        proposed(contract, as_json)
        return
    if as_json:
        print_json(contract_record(contract))
        return
    typer.echo(
        f"Contract {contract.contract_id} added for merchant {contract.merchant_id}: "
        f"{_period(contract, zone)}."
    )


@app.command("end")
def end(
    contract_id: Annotated[str, typer.Argument(help="The contract id.", show_default=False)],
    at: Annotated[
        str | None, typer.Option(help=f"End, exclusive: {MomentHelp}.", show_default="now")
    ] = None,
    who: AsOption = None,
    password_stdin: PasswordStdinOption = False,
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """End a contract: transactions dated from then on are not covered by it.

    Accepted transactions keep their commission. A contract can only be shortened. With
    two-person approval on, this proposes the end instead (without --at: at the approval).
    """
    where = locate_checked(data_dir, database_url)
    zone = ZoneInfo(where.settings.timezone)
    with input_checks(AdminError):
        moment = None if at is None else parse_moment(at, zone)
    with open_located(where) as op:
        op, role = signed_in(op, who, password_stdin)
        contract = end_contract_or_propose(
            op.sessions, contract_id, at=moment, actor=op.actor, role=role
        )
    if isinstance(contract, Proposal):
        proposed(contract, as_json)
        return
    if as_json:
        print_json(contract_record(contract))
        return
    typer.echo(f"Contract {contract.contract_id} now runs {_period(contract, zone)}.")


@app.command("list")
def list_(
    merchant_id: Annotated[
        str | None,
        typer.Option("--merchant-id", help="Only this merchant's contracts.", show_default="all"),
    ] = None,
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """List contracts with their rules."""
    with open_located(locate_checked(data_dir, database_url)) as op:
        found = list_contracts(op.sessions, merchant_id=merchant_id)
        zone = op.zone
    if as_json:
        print_json([contract_record(c) for c in found])
        return
    print_table(
        "Contracts",
        ["contract", "merchant", "from", "to", "rules", "default", "window", "thresh."],
        [
            [
                c.contract_id,
                c.merchant_id,
                show_bound(c.valid_from, zone),
                "open" if c.valid_to is None else show_bound(c.valid_to, zone),
                "\n".join(f"{code}={_rule(rule)}" for code, rule in c.rules.items()) or "-",
                f"{c.default_rate_bp} bp",
                f"{c.effective_goods_window.days} d",
                str(c.effective_threshold_minor),
            ]
            for c in found
        ],
        zone=zone,
    )


def _rule(rule: Rule) -> str:
    return f"{rule.value} bp" if rule.kind == "rate" else f"{rule.value} fixed"


def _period(contract: Contract, zone: tzinfo) -> str:
    end = "open end" if contract.valid_to is None else show_bound(contract.valid_to, zone)
    return f"{show_bound(contract.valid_from, zone)} to {end}"


def show_bound(moment: datetime, zone: tzinfo) -> str:
    """A contract bound: just the date when it is midnight in the platform's zone."""
    local = moment.astimezone(zone)
    return local.strftime("%Y-%m-%d" if local.time() == time() else "%Y-%m-%d %H:%M:%S")


def contract_record(contract: Contract) -> dict[str, Any]:
    """A contract for JSON output (print_json makes the keys camelCase)."""
    return {
        "contract_id": contract.contract_id,
        "merchant_id": contract.merchant_id,
        "valid_from": contract.valid_from,
        "valid_to": contract.valid_to,
        "rules": {
            code: {"kind": rule.kind, "value": rule.value} for code, rule in contract.rules.items()
        },
        "default_rate_bp": contract.default_rate_bp,
        "goods_window_days": contract.effective_goods_window.days,
        "amount_threshold_minor": contract.effective_threshold_minor,
    }
