"""Operator commands for API clients, their public keys and the merchants they report for."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from asap_sync import wire
from asap_sync.bootstrap import system_clock
from asap_sync.cli.conventions import JsonOption, bad_input, new_app, print_json
from asap_sync.cli.display import print_table, show_time
from asap_sync.cli.operator_session import (
    DatabaseUrlOption,
    DataDirOption,
    open_operator,
    record,
)
from asap_sync.service.admin import (
    add_client,
    add_client_key,
    link_merchant,
    list_client_keys,
    list_clients,
    list_links,
    retire_client_key,
    set_client_enabled,
    unlink_merchant,
)

clients_app = new_app("API clients (merchants or ISVs) that may call the endpoint.")
keys_app = new_app("Client public keys, by version (PEM or one-line base64).")
merchants_app = new_app("Which clients may report transactions for which merchants.")

ClientArgument = Annotated[str, typer.Argument(help="The client's Client-Id.", show_default=False)]
MerchantArgument = Annotated[str, typer.Argument(help="The merchantId.", show_default=False)]


# -- clients ------------------------------------------------------------------------------


@clients_app.command("add")
def clients_add(
    client_id: ClientArgument,
    name: Annotated[str, typer.Option(help="A name for people.", show_default="none")] = "",
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """Register a client. It can call once it has a key and a merchant link."""
    with open_operator(data_dir, database_url) as op:
        client = add_client(op.sessions, client_id, name=name, now=system_clock())
    if as_json:
        print_json(record(client))
    else:
        typer.echo(f"Client {client.client_id} added.")


@clients_app.command("disable")
def clients_disable(
    client_id: ClientArgument,
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """Disable a client: its requests answer INVALID_CLIENT until it is enabled again."""
    with open_operator(data_dir, database_url) as op:
        set_client_enabled(op.sessions, client_id, enabled=False)
    _done(f"Client {client_id} disabled.", {"clientId": client_id, "status": "disabled"}, as_json)


@clients_app.command("enable")
def clients_enable(
    client_id: ClientArgument,
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """Enable a disabled client again."""
    with open_operator(data_dir, database_url) as op:
        set_client_enabled(op.sessions, client_id, enabled=True)
    _done(f"Client {client_id} enabled.", {"clientId": client_id, "status": "active"}, as_json)


def _done(message: str, fields: dict[str, object], as_json: bool) -> None:
    """What a command that changed data prints: a sentence, or its fields as JSON."""
    if as_json:
        print_json(fields)
    else:
        typer.echo(message)


@clients_app.command("list")
def clients_list(
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """List clients with their active key versions and linked merchants."""
    with open_operator(data_dir, database_url) as op:
        found = list_clients(op.sessions)
        zone = op.zone
    if as_json:
        print_json([record(c) for c in found])
        return
    print_table(
        "Clients",
        ["client", "name", "status", "active keys", "merchants", "created", "last used"],
        [
            [
                c.client_id,
                c.name,
                c.status,
                ", ".join(map(str, c.active_key_versions)) or "-",
                ", ".join(c.merchant_ids) or "-",
                show_time(c.created_at, zone),
                show_time(c.last_used_at, zone),
            ]
            for c in found
        ],
        zone=zone,
    )


# -- keys ---------------------------------------------------------------------------------


def _key_text(key_file: Path | None, key: str | None) -> str:
    """The public key's text, checked before any work."""
    if (key_file is None) == (key is None):
        bad_input("give the public key with exactly one of --key-file or --key")
    if key is not None:
        text = key
    elif str(key_file) == "-":
        text = sys.stdin.read()
    else:
        assert key_file is not None
        try:
            text = key_file.read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as exc:
            bad_input(f"cannot read key file {key_file}: {getattr(exc, 'strerror', None) or exc}")
    try:
        wire.load_public_key(text)
    except ValueError as exc:
        bad_input(f"the public key is not usable: {exc}")
    return text


@keys_app.command("add")
def keys_add(
    client_id: ClientArgument,
    key_file: Annotated[
        Path | None,
        typer.Option(
            help="File with the public key: PEM or one-line base64 ('-' for stdin).",
            show_default="none: give this or --key",
        ),
    ] = None,
    key: Annotated[
        str | None,
        typer.Option(
            help="The public key as text: PEM or one-line base64.",
            show_default="none: give this or --key-file",
        ),
    ] = None,
    version: Annotated[
        int | None,
        typer.Option(help="Key version.", min=1, show_default="the next one"),
    ] = None,
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """Add a client public key under a version (the client sends keyVersion=N to pick it)."""
    text = _key_text(key_file, key)
    with open_operator(data_dir, database_url) as op:
        added = add_client_key(op.sessions, client_id, text, version=version, now=system_clock())
    if as_json:
        print_json(record(added, fingerprint=added.fingerprint))
        return
    typer.echo(
        f"Key version {added.key_version} added to client {client_id} "
        f"(fingerprint {added.fingerprint})."
    )


@keys_app.command("list")
def keys_list(
    client_id: Annotated[
        str | None, typer.Argument(help="Only this client's keys.", show_default="all clients")
    ] = None,
    pem: Annotated[bool, typer.Option("--pem", help="Print the keys themselves too.")] = False,
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """List key versions, retired ones included; fingerprint = SHA-256 of the DER, shortened."""
    with open_operator(data_dir, database_url) as op:
        found = list_client_keys(op.sessions, client_id)
        zone = op.zone
    if as_json:
        print_json([record(k, fingerprint=k.fingerprint) for k in found])
        return
    print_table(
        "Client keys",
        ["client", "version", "status", "fingerprint", "created", "retired", "last used"],
        [
            [
                k.client_id,
                str(k.key_version),
                k.status,
                k.fingerprint,
                show_time(k.created_at, zone),
                show_time(k.retired_at, zone),
                show_time(k.last_used_at, zone),
            ]
            for k in found
        ],
        zone=zone,
    )
    if pem:
        for k in found:
            typer.echo(f"\n{k.client_id} version {k.key_version}:\n{k.public_key_pem.rstrip()}")


@keys_app.command("retire")
def keys_retire(
    client_id: ClientArgument,
    version: Annotated[int, typer.Argument(help="The key version to retire.", show_default=False)],
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """Retire a key version: requests signed with it answer KEY_NOT_FOUND from now on."""
    with open_operator(data_dir, database_url) as op:
        retire_client_key(op.sessions, client_id, version, now=system_clock())
    _done(
        f"Key version {version} of client {client_id} retired.",
        {"clientId": client_id, "keyVersion": version, "status": "retired"},
        as_json,
    )


# -- merchant links -----------------------------------------------------------------------


@merchants_app.command("link")
def merchants_link(
    client_id: ClientArgument,
    merchant_id: MerchantArgument,
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """Allow a client to report transactions for a merchant."""
    with open_operator(data_dir, database_url) as op:
        link_merchant(op.sessions, client_id, merchant_id, now=system_clock())
    _done(
        f"Client {client_id} may now report for merchant {merchant_id}.",
        {"clientId": client_id, "merchantId": merchant_id, "linked": True},
        as_json,
    )


@merchants_app.command("unlink")
def merchants_unlink(
    client_id: ClientArgument,
    merchant_id: MerchantArgument,
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """Stop a client from reporting for a merchant (it then gets INVALID_MERCHANT)."""
    with open_operator(data_dir, database_url) as op:
        unlink_merchant(op.sessions, client_id, merchant_id)
    _done(
        f"Client {client_id} may no longer report for merchant {merchant_id}.",
        {"clientId": client_id, "merchantId": merchant_id, "linked": False},
        as_json,
    )


@merchants_app.command("list")
def merchants_list(
    merchant_id: Annotated[
        str | None, typer.Option("--merchant-id", help="Only this merchant.", show_default="all")
    ] = None,
    client_id: Annotated[
        str | None, typer.Option("--client-id", help="Only this client.", show_default="all")
    ] = None,
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """List client–merchant links."""
    with open_operator(data_dir, database_url) as op:
        found = list_links(op.sessions, client_id=client_id, merchant_id=merchant_id)
        zone = op.zone
    if as_json:
        print_json([record(link) for link in found])
        return
    print_table(
        "Merchant links",
        ["merchant", "client", "linked"],
        [[m.merchant_id, m.client_id, show_time(m.created_at, zone)] for m in found],
        zone=zone,
    )
