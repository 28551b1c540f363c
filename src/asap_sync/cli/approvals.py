"""``asap-sync approvals``: two-person approval of contract changes and period closes.

Who is acting: with ``--as NAME`` the command runs as that operator account (the console's
accounts), its password read from stdin (``--password-stdin``) or asked at the terminal. One
person so has one name in the CLI and the console, and cannot approve their own proposal by
switching between them. Without ``--as`` the activity log names the OS user (``cli:<user>``),
which may act directly but may not propose or decide while two-person approval is on.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from asap_sync.bootstrap import system_clock
from asap_sync.cli.conventions import JsonOption, fail, new_app, print_json
from asap_sync.cli.display import print_table, show_time
from asap_sync.cli.operator_session import (
    DatabaseUrlOption,
    DataDirOption,
    Operator,
    open_operator,
    read_password,
)
from asap_sync.domain.settlement import SettlementRefused
from asap_sync.service import approvals
from asap_sync.service.approval_ports import STATUSES, Proposal
from asap_sync.service.journal import Actor
from asap_sync.service.operator_ports import Role
from asap_sync.service.operators import authenticate
from asap_sync.storage.operators import SqlOperatorSessions

approvals_app = new_app(
    "Two-person approval: contract changes and period closes proposed by one operator, "
    "approved by another."
)

AsOption = Annotated[
    str | None,
    typer.Option(
        "--as",
        help="Act as this operator account (needed while two-person approval is on).",
        show_default="the OS user, not an account",
    ),
]
PasswordStdinOption = Annotated[
    bool,
    typer.Option("--password-stdin", help="Read the --as account's password from stdin."),
]
IdArgument = Annotated[int, typer.Argument(help="The proposal id.", show_default=False)]


class StatusChoice(StrEnum):
    """Which proposals to list."""

    pending = "pending"
    approved = "approved"
    rejected = "rejected"
    withdrawn = "withdrawn"
    all = "all"


class OnOff(StrEnum):
    """The two values of the setting."""

    on = "on"
    off = "off"


def signed_in(op: Operator, name: str | None, password_stdin: bool) -> tuple[Operator, Role]:
    """The database acting as the ``--as`` account (checked password), and its role.

    Without ``--as``: the OS user, who may act directly (role: admin, as the CLI always had)
    but not propose or decide while two-person approval is on.
    """
    if name is None:
        return op, Role.ADMIN
    password = read_password(password_stdin, f"Password of {name}: ")
    record = authenticate(SqlOperatorSessions(op.engine), name, password)
    if record is None:
        fail(f"operator {name!r}: unknown, disabled, or not this password")
    actor = Actor(name=record.name, source="cli", at=system_clock())
    return op.acting(actor), record.role


@contextmanager
def acting_as(
    who: str | None, password_stdin: bool, data_dir: Path | None, database_url: str | None
) -> Iterator[tuple[Operator, Role]]:
    """The database the options name, acting as the ``--as`` account, with its role."""
    with open_operator(data_dir, database_url) as op:
        yield signed_in(op, who, password_stdin)


def proposed(proposal: Proposal, as_json: bool) -> None:
    """What a command that proposed instead of acting prints."""
    if as_json:
        print_json(proposal)
        return
    typer.echo(
        f"Proposed, awaiting approval: proposal {proposal.proposal_id} ({proposal.action} "
        f"{proposal.subject}). Another operator approves it with "
        f"`asap-sync approvals approve {proposal.proposal_id} --as NAME` or in the console."
    )


@approvals_app.command("list")
def list_command(
    status: Annotated[
        StatusChoice, typer.Option(help="Which proposals.", case_sensitive=False)
    ] = StatusChoice.pending,
    limit: Annotated[int, typer.Option(help="How many, newest first.", min=1)] = 50,
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """List proposals, newest first, and say whether two-person approval is on."""
    chosen = None if status is StatusChoice.all else status.value
    assert chosen is None or chosen in STATUSES
    with open_operator(data_dir, database_url) as op:
        found = approvals.list_proposals(op.sessions, status=chosen, limit=limit)
        required = approvals.approval_required(op.sessions)
        zone = op.zone
    if as_json:
        print_json(found)
        return
    typer.echo(f"Two-person approval is {'on' if required else 'off'}.")
    print_table(
        "Proposals",
        ["id", "proposed", "by", "action", "subject", "status", "decided by"],
        [
            [
                str(p.proposal_id),
                show_time(p.proposed_at, zone),
                p.proposed_by,
                p.action,
                p.subject,
                p.status,
                p.decided_by or "-",
            ]
            for p in found
        ],
        zone=zone,
    )


@approvals_app.command("approve")
def approve_command(
    proposal_id: IdArgument,
    who: AsOption = None,
    password_stdin: PasswordStdinOption = False,
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """Approve another operator's proposal: its checks run again, then it takes effect."""
    with acting_as(who, password_stdin, data_dir, database_url) as (op, role):
        try:
            decided = approvals.approve(
                op.sessions,
                op.settlement_units(),
                proposal_id,
                actor=op.actor,
                role=role,
                zone=op.zone,
            )
        except SettlementRefused as exc:
            fail(str(exc))
    _decided(decided, as_json)


@approvals_app.command("reject")
def reject_command(
    proposal_id: IdArgument,
    reason: Annotated[str, typer.Option(help="Why, for the proposer.", show_default="none")] = "",
    who: AsOption = None,
    password_stdin: PasswordStdinOption = False,
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """Reject another operator's proposal: nothing changes."""
    with acting_as(who, password_stdin, data_dir, database_url) as (op, role):
        decided = approvals.reject(
            op.sessions, proposal_id, actor=op.actor, role=role, reason=reason
        )
    _decided(decided, as_json)


@approvals_app.command("withdraw")
def withdraw_command(
    proposal_id: IdArgument,
    who: AsOption = None,
    password_stdin: PasswordStdinOption = False,
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """Withdraw one's own proposal: nothing changes."""
    with acting_as(who, password_stdin, data_dir, database_url) as (op, _role):
        decided = approvals.withdraw(op.sessions, proposal_id, actor=op.actor)
    _decided(decided, as_json)


@approvals_app.command("require")
def require_command(
    value: Annotated[OnOff, typer.Argument(help="on or off.", show_default=False)],
    who: AsOption = None,
    password_stdin: PasswordStdinOption = False,
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """Turn two-person approval on or off (an admin account, with --as); logged."""
    with acting_as(who, password_stdin, data_dir, database_url) as (op, role):
        on = approvals.set_approval_required(
            op.sessions, value is OnOff.on, actor=op.actor, role=role
        )
    if as_json:
        print_json({"twoPersonApproval": "on" if on else "off"})
        return
    typer.echo(f"Two-person approval is {'on' if on else 'off'}.")


def _decided(proposal: Proposal, as_json: bool) -> None:
    if as_json:
        print_json(proposal)
        return
    typer.echo(
        f"Proposal {proposal.proposal_id} ({proposal.action} {proposal.subject}) is "
        f"{proposal.status}."
    )
