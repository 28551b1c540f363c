"""``asap-sync operators``: console accounts; ``asap-sync activity``: the activity log."""

from __future__ import annotations

import os
from typing import Annotated, Any

import typer

from asap_sync.cli.conventions import (
    JsonOption,
    input_checks,
    new_app,
    print_json,
)
from asap_sync.cli.display import print_table, show_time
from asap_sync.cli.operator_session import (
    DatabaseUrlOption,
    DataDirOption,
    Operator,
    open_operator,
    read_password,
)
from asap_sync.service.operator_ports import ChangeFilter, LoggedChange, OperatorError
from asap_sync.service.operators import (
    add_operator,
    check_password,
    disable_operator,
    list_changes,
    list_operators,
    parse_role,
    reset_password,
)
from asap_sync.storage.operators import SqlOperatorSessions

operators_app = new_app("Console accounts (roles: viewer reads, finance settles, admin manages).")
activity_log_app = new_app("The activity log: every change made from the console or the CLI.")

NameArgument = Annotated[str, typer.Argument(help="The operator's login name.")]
PasswordStdin = Annotated[
    bool,
    typer.Option("--password-stdin", help="Read the password from the first line of stdin."),
]


def sessions_of(op: Operator) -> SqlOperatorSessions:
    """The operator-account sessions of an open database."""
    return SqlOperatorSessions(op.engine)


@operators_app.command("add")
def operators_add(
    name: NameArgument,
    role: Annotated[str, typer.Option(help="admin, finance or viewer.")] = "viewer",
    password_stdin: PasswordStdin = False,
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create a console account; the password is asked for (or read from stdin)."""
    with input_checks(OperatorError):
        chosen = parse_role(role)
        password = check_password(read_password(password_stdin, confirm=True))
    with open_operator(data_dir, database_url) as op:
        added = add_operator(
            sessions_of(op),
            name,
            role=chosen,
            password=password,
            salt=os.urandom(16),
            actor=op.actor,
        )
    if as_json:
        print_json(added)
        return
    typer.echo(f"Operator {added.name} added with role {added.role.value}.")


@operators_app.command("list")
def operators_list(
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """Every console account with its role and status."""
    with open_operator(data_dir, database_url) as op:
        found = list_operators(sessions_of(op))
        zone = op.zone
    if as_json:
        print_json(list(found))
        return
    print_table(
        "Operators",
        ["name", "role", "status", "created", "updated"],
        [
            [
                o.name,
                o.role.value,
                o.status,
                show_time(o.created_at, zone),
                show_time(o.updated_at, zone),
            ]
            for o in found
        ],
        zone=zone,
    )


@operators_app.command("disable")
def operators_disable(
    name: NameArgument,
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """Disable an account: it can no longer log in and its open sessions end."""
    with open_operator(data_dir, database_url) as op:
        disabled = disable_operator(sessions_of(op), name, actor=op.actor)
    if as_json:
        print_json(disabled)
        return
    typer.echo(f"Operator {name} disabled.")


@operators_app.command("reset-password")
def operators_reset_password(
    name: NameArgument,
    password_stdin: PasswordStdin = False,
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """Set a new password (this also enables a disabled account); open sessions end."""
    with input_checks(OperatorError):
        password = check_password(read_password(password_stdin, confirm=True))
    with open_operator(data_dir, database_url) as op:
        done = reset_password(
            sessions_of(op), name, password=password, salt=os.urandom(16), actor=op.actor
        )
    if as_json:
        print_json(done)
        return
    typer.echo(f"Password of operator {name} reset.")


@activity_log_app.command("list")
def activity_list(
    actor: Annotated[
        str | None, typer.Option(help="Only changes made by this actor.", show_default="all")
    ] = None,
    action: Annotated[
        str | None,
        typer.Option(help="Only this action, e.g. client.add.", show_default="all"),
    ] = None,
    limit: Annotated[int, typer.Option(help="How many, newest first.", min=1)] = 50,
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """The newest changes: when, who, from where, what, before and after."""
    which = ChangeFilter(actor=actor, action=action, limit=limit)
    with open_operator(data_dir, database_url) as op:
        found = list_changes(sessions_of(op), which)
        zone = op.zone
    if as_json:
        print_json([_change_fields(c) for c in found])
        return
    print_table(
        "Changes",
        ["at", "actor", "source", "action", "subject", "before", "after"],
        [
            [
                show_time(c.change.at, zone),
                c.change.actor,
                c.change.source,
                c.change.action,
                c.change.subject,
                _brief(c.change.before),
                _brief(c.change.after),
            ]
            for c in found
        ],
        zone=zone,
    )


def _change_fields(logged: LoggedChange) -> dict[str, Any]:
    change = logged.change
    return {
        "activityId": logged.activity_id,
        "at": change.at,
        "actor": change.actor,
        "source": change.source,
        "action": change.action,
        "subject": change.subject,
        # Recorded values follow the one key convention too (docs/cli.md).
        "before": change.before,
        "after": change.after,
    }


def _brief(values: dict[str, object] | None) -> str:
    if not values:
        return "-"
    return ", ".join(f"{k}={v}" for k, v in values.items())
