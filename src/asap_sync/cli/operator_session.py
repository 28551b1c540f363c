"""What every operator command shares: database options, settings, errors and output.

Commands of other groups use these too (docs/cli.md, "Writing a command"): the options,
:func:`open_operator` for commands that only read or change rows, and the output helpers.
"""

from __future__ import annotations

import dataclasses
import getpass
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer
from sqlalchemy import Engine, make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, SQLAlchemyError

from asap_sync.bootstrap import engine_for, system_clock
from asap_sync.cli.conventions import (
    CliError,
    Exit,
    JsonOption,
    bad_input,
    fail,
    print_json,
)
from asap_sync.cli.display import print_table, show_time
from asap_sync.cli.location import CONFIG_FILE, Location, locate
from asap_sync.config import DATABASE_FILE, Settings
from asap_sync.service.admin import AdminError
from asap_sync.service.journal import Actor
from asap_sync.storage.admin import SqlAdminSessions
from asap_sync.storage.file_modes import CustodyError
from asap_sync.storage.migrate import SchemaOutOfDate, check_up_to_date, current_revision
from asap_sync.storage.settlement import SqlSettlementUnitOfWork

__all__ = [
    "DataDirOption",
    "DatabaseUrlOption",
    "JsonOption",
    "Operator",
    "cli_actor",
    "describe_database",
    "embedded_database",
    "fail",
    "open_operator",
    "operator_errors",
    "print_json",
    "print_table",
    "read_password",
    "record",
    "settings_for",
    "show_time",
]

DataDirOption = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        envvar="ASAP_SYNC_DATA_DIR",
        help=f"Data directory of the embedded SQLite database [default: data_dir in "
        f"./{CONFIG_FILE}, else ./asap-data].",
        show_default=False,
    ),
]
DatabaseUrlOption = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        envvar="ASAP_SYNC_DATABASE_URL",
        help="Database URL, e.g. postgresql://user:pass@host:5432/asap [default: SQLite in the "
        "data directory].",
        show_default=False,
    ),
]


@contextmanager
def operator_errors() -> Iterator[None]:
    """Turn what an operator can get wrong, or a database that is down, into one line."""
    try:
        yield
    except (AdminError, SchemaOutOfDate, CustodyError) as exc:
        fail(str(exc))
    except (OperationalError, InterfaceError) as exc:
        fail(f"database error: {_first_line(exc)}", Exit.TRANSPORT)
    except SQLAlchemyError as exc:
        fail(f"database error: {_first_line(exc)}")


def _first_line(exc: SQLAlchemyError) -> str:
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    return (str(cause).strip().splitlines() or [type(cause).__name__])[0]


def locate_checked(data_dir: Path | None, database_url: str | None, **more: Any) -> Location:
    """Settings by the one rule (flag, variable, asap-sync.toml, default), time zone checked."""
    where = locate(data_dir, database_url, **more)
    try:
        ZoneInfo(where.settings.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        bad_input(f"unknown time zone {where.settings.timezone!r} (ASAP_SYNC_TIMEZONE)")
    return where


def settings_for(data_dir: Path | None, database_url: str | None, **more: Any) -> Settings:
    """Flags, then ``ASAP_SYNC_*`` variables, then ``asap-sync.toml``, then defaults."""
    return locate_checked(data_dir, database_url, **more).settings


def embedded_database(settings: Settings) -> Path | None:
    """The SQLite file of the embedded default, or None when a database URL is given."""
    return None if settings.database_url else settings.data_dir / DATABASE_FILE


def describe_database(settings: Settings) -> str:
    """Where the data is, without a password."""
    path = embedded_database(settings)
    if path is not None:
        return str(path.resolve())
    return make_url(settings.database_url).render_as_string(hide_password=True)


def require_migrated(engine: Engine, settings: Settings) -> None:
    """Refuse to work on an empty or out-of-date schema, saying which command fixes it."""
    if current_revision(engine) is None:
        fail(f"the database {describe_database(settings)} is not initialised: run `asap-sync init`")
    check_up_to_date(engine)


def read_password(from_stdin: bool, prompt: str = "Password: ", *, confirm: bool = False) -> str:
    """A password from the first line of stdin, or asked at the terminal (twice to confirm)."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        bad_input("no terminal to ask for the password: pass --password-stdin and pipe it")
    first = getpass.getpass(prompt)
    if confirm and getpass.getpass("Password again: ") != first:
        bad_input("the two passwords differ")
    return first


def cli_actor() -> Actor:
    """The person at the terminal, as the activity log names them: ``cli:<OS user>``."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return Actor(name=f"cli:{user}", source="cli", at=system_clock(), signed_in=False)


@dataclass(frozen=True, kw_only=True)
class Operator:
    """An open database for one command; its changes are logged under ``actor``."""

    settings: Settings
    engine: Engine
    actor: Actor

    @property
    def sessions(self) -> SqlAdminSessions:
        """The operator use cases' sessions, logging every change under :attr:`actor`."""
        return SqlAdminSessions(self.engine, actor=self.actor)

    def settlement_units(self) -> Callable[[], SqlSettlementUnitOfWork]:
        """Units of work of closing and assigning, logging under :attr:`actor`."""
        return lambda: SqlSettlementUnitOfWork(self.engine, actor=self.actor)

    def acting(self, actor: Actor) -> Operator:
        """The same database, changes logged under another actor."""
        return dataclasses.replace(self, actor=actor)

    @property
    def zone(self) -> tzinfo:
        """The platform's time zone: dates mean midnight there, times are shown there."""
        return ZoneInfo(self.settings.timezone)


def no_database_here(where: Location) -> CliError:
    """The error of a command that needs a database where there is none; says where it looked."""
    directory = where.settings.data_dir.resolve()
    return CliError(
        f"no database in {directory} (data directory from {where.data_dir_source}): run "
        f"`asap-sync init` there, or name the data directory with --data-dir, "
        f"ASAP_SYNC_DATA_DIR or data_dir in ./{CONFIG_FILE}"
    )


@contextmanager
def open_located(where: Location) -> Iterator[Operator]:
    """The migrated database of resolved settings; never creates a directory or a database."""
    settings = where.settings
    with operator_errors():
        path = embedded_database(settings)
        if path is not None and not path.is_file():
            raise no_database_here(where)
        engine = engine_for(settings)
        try:
            require_migrated(engine, settings)
            yield Operator(settings=settings, engine=engine, actor=cli_actor())
        finally:
            engine.dispose()


@contextmanager
def open_operator(data_dir: Path | None, database_url: str | None) -> Iterator[Operator]:
    """The migrated database the options name; a missing embedded database is an error."""
    with open_located(locate_checked(data_dir, database_url)) as op:
        yield op


def record(value: Any, **extra: Any) -> dict[str, Any]:
    """A dataclass record as a dict for JSON output, with computed extras."""
    return {**dataclasses.asdict(value), **extra}
