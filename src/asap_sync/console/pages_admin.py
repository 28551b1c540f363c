"""Console pages of administration: clients and keys, merchant links, contracts, operators,
the activity log. Every change calls the CLI's use case and is written to the activity log."""

from __future__ import annotations

import os

from starlette.responses import Response

from asap_sync.console.pages_approvals import pending_by_action, proposed_notice
from asap_sync.console.web import Ask, back
from asap_sync.service import admin, approvals
from asap_sync.service.admin_ports import AdminError
from asap_sync.service.approval_ports import Proposal
from asap_sync.service.operator_ports import ChangeFilter, Role
from asap_sync.service.operators import (
    add_operator,
    disable_operator,
    list_changes,
    list_operators,
    parse_role,
    reset_password,
)

ACTIVITY_PAGE = 50


def _number(text: str, what: str) -> int:
    if not text.strip().lstrip("-").isdigit():
        raise AdminError(f"{what} must be a whole number, not {text!r}")
    return int(text)


# -- clients and keys ---------------------------------------------------------------------


def clients_page(ask: Ask) -> Response:
    """Clients with their keys (fingerprints, versions, status) and merchant links."""
    clients = admin.list_clients(ask.admin())
    keys = admin.list_client_keys(ask.admin())
    return ask.render("clients.html", clients=clients, keys=keys)


def add_client(ask: Ask) -> Response:
    """``asap-sync clients add``."""
    client = admin.add_client(
        ask.admin(), ask.field("client_id"), name=ask.field("name"), now=ask.actor().at
    )
    return back("/console/clients", notice=f"Client {client.client_id} added.")


def set_client_status(ask: Ask) -> Response:
    """``asap-sync clients enable|disable``."""
    client_id, enabled = ask.field("client_id"), ask.field("enabled") == "1"
    before = admin.set_client_enabled(ask.admin(), client_id, enabled=enabled)
    state = "active" if enabled else "disabled"
    return back("/console/clients", notice=f"Client {before.client_id} is {state}.")


def add_key(ask: Ask) -> Response:
    """``asap-sync keys add``: a public key, PEM or one-line base64."""
    version = ask.field("version")
    key = admin.add_client_key(
        ask.admin(),
        ask.field("client_id"),
        ask.field("key"),
        version=_number(version, "key version") if version else None,
        now=ask.actor().at,
    )
    notice = f"Key version {key.key_version} of {key.client_id} added ({key.fingerprint})."
    return back("/console/clients", notice=notice)


def retire_key(ask: Ask) -> Response:
    """``asap-sync keys retire``."""
    client_id, version = ask.field("client_id"), _number(ask.field("version"), "key version")
    admin.retire_client_key(ask.admin(), client_id, version, now=ask.actor().at)
    return back("/console/clients", notice=f"Key version {version} of {client_id} retired.")


# -- merchants ----------------------------------------------------------------------------


def merchants_page(ask: Ask) -> Response:
    """Which client may report for which merchant."""
    links = admin.list_links(ask.admin())
    clients = admin.list_clients(ask.admin())
    return ask.render("merchants.html", links=links, clients=clients)


def link_merchant(ask: Ask) -> Response:
    """``asap-sync merchants link``."""
    link = admin.link_merchant(
        ask.admin(), ask.field("client_id"), ask.field("merchant_id"), now=ask.actor().at
    )
    return back("/console/merchants", notice=f"{link.client_id} may report for {link.merchant_id}.")


def unlink_merchant(ask: Ask) -> Response:
    """``asap-sync merchants unlink``."""
    link = admin.unlink_merchant(ask.admin(), ask.field("client_id"), ask.field("merchant_id"))
    subject = f"{link.client_id} -> {link.merchant_id}"
    return back("/console/merchants", notice=f"{subject} unlinked.")


# -- contracts ----------------------------------------------------------------------------


def contracts_page(ask: Ask) -> Response:
    """Contracts with their rules per goodsCode and validity."""
    merchant = ask.query("merchant_id") or None
    contracts = admin.list_contracts(ask.admin(), merchant_id=merchant)
    pending = pending_by_action(ask)
    return ask.render(
        "contracts.html",
        contracts=contracts,
        merchant=merchant or "",
        proposed_adds=pending.get(approvals.CONTRACT_ADD, {}),
        proposed_ends=pending.get(approvals.CONTRACT_END, {}),
    )


def add_contract(ask: Ask) -> Response:
    """``asap-sync contracts add``, with the same checks (ids, rules, no overlap)."""
    zone = ask.console.zone
    rules = [r for r in ask.field("rules").replace(",", "\n").splitlines() if r.strip()]
    valid_to, window = ask.field("valid_to"), ask.field("goods_window_days")
    threshold = ask.field("amount_threshold_minor")
    new = admin.NewContract(
        contract_id=ask.field("contract_id"),
        merchant_id=ask.field("merchant_id"),
        valid_from=admin.parse_moment(ask.field("valid_from"), zone),
        valid_to=admin.parse_moment(valid_to, zone) if valid_to else None,
        rules=admin.parse_rules(rules),
        default_rate_bp=_number(ask.field("default_rate_bp") or "0", "default rate"),
        goods_window_days=_number(window, "goods window") if window else None,
        amount_threshold_minor=_number(threshold, "amount threshold") if threshold else None,
    )
    contract = approvals.add_contract_or_propose(
        ask.admin(), new, actor=ask.actor(), role=ask.operator.role
    )
    if isinstance(contract, Proposal):
        return back("/console/contracts", notice=proposed_notice(contract))
    return back("/console/contracts", notice=f"Contract {contract.contract_id} added.")


def end_contract(ask: Ask) -> Response:
    """``asap-sync contracts end``: only ever shortens a contract."""
    at = ask.field("at")
    contract_id = ask.field("contract_id")
    ended = approvals.end_contract_or_propose(
        ask.admin(),
        contract_id,
        at=admin.parse_moment(at, ask.console.zone) if at else None,
        actor=ask.actor(),
        role=ask.operator.role,
    )
    if isinstance(ended, Proposal):
        return back("/console/contracts", notice=proposed_notice(ended))
    return back(
        "/console/contracts",
        notice=f"Contract {contract_id} ends {ended.valid_to and ended.valid_to.isoformat()}.",
    )


# -- operators and the activity log -------------------------------------------------------


def operators_page(ask: Ask) -> Response:
    """Console accounts."""
    return ask.render("operators.html", operators=list_operators(ask.console.operators))


def add_operator_action(ask: Ask) -> Response:
    """``asap-sync operators add``."""
    added = add_operator(
        ask.console.operators,
        ask.field("name"),
        role=parse_role(ask.field("role")),
        password=str(ask.form.get("password", "")),
        salt=os.urandom(16),
        actor=ask.actor(),
    )
    return back("/console/operators", notice=f"Operator {added.name} added ({added.role.value}).")


def disable_operator_action(ask: Ask) -> Response:
    """``asap-sync operators disable``."""
    name = ask.field("name")
    if name == ask.operator.name:
        raise AdminError("you cannot disable your own account")
    disable_operator(ask.console.operators, name, actor=ask.actor())
    return back("/console/operators", notice=f"Operator {name} disabled.")


def reset_operator_action(ask: Ask) -> Response:
    """``asap-sync operators reset-password``."""
    name = ask.field("name")
    reset_password(
        ask.console.operators,
        name,
        password=str(ask.form.get("password", "")),
        salt=os.urandom(16),
        actor=ask.actor(),
    )
    return back("/console/operators", notice=f"Password of {name} reset.")


def activity_page(ask: Ask) -> Response:
    """The activity log, newest first, by actor or action; keyset pages."""
    before = ask.query("before")
    which = ChangeFilter(
        actor=ask.query("actor") or None,
        action=ask.query("action") or None,
        before_id=int(before) if before.isdigit() else None,
        limit=ACTIVITY_PAGE + 1,
    )
    changes = list(list_changes(ask.console.operators, which))
    more = len(changes) > ACTIVITY_PAGE
    changes = changes[:ACTIVITY_PAGE]
    return ask.render(
        "activity.html",
        changes=changes,
        which=which,
        next_before=changes[-1].activity_id if more else None,
    )


PAGES = [
    ("/clients", clients_page, Role.VIEWER, ["GET"]),
    ("/clients/add", add_client, Role.ADMIN, ["POST"]),
    ("/clients/status", set_client_status, Role.ADMIN, ["POST"]),
    ("/keys/add", add_key, Role.ADMIN, ["POST"]),
    ("/keys/retire", retire_key, Role.ADMIN, ["POST"]),
    ("/merchants", merchants_page, Role.VIEWER, ["GET"]),
    ("/merchants/link", link_merchant, Role.ADMIN, ["POST"]),
    ("/merchants/unlink", unlink_merchant, Role.ADMIN, ["POST"]),
    ("/contracts", contracts_page, Role.VIEWER, ["GET"]),
    ("/contracts/add", add_contract, Role.ADMIN, ["POST"]),
    ("/contracts/end", end_contract, Role.ADMIN, ["POST"]),
    ("/operators", operators_page, Role.ADMIN, ["GET"]),
    ("/operators/add", add_operator_action, Role.ADMIN, ["POST"]),
    ("/operators/disable", disable_operator_action, Role.ADMIN, ["POST"]),
    ("/operators/reset-password", reset_operator_action, Role.ADMIN, ["POST"]),
    ("/activity", activity_page, Role.VIEWER, ["GET"]),
]
