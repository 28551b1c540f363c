"""What every operator command shares: database options, settings, errors and output."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import Annotated, Any, NoReturn
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine, make_url
from sqlalchemy.exc import SQLAlchemyError

from asap_sync.bootstrap import engine_for
from asap_sync.config import DATABASE_FILE, Settings
from asap_sync.service.admin import AdminError
from asap_sync.storage.admin import SqlAdminSessions
from asap_sync.storage.file_modes import CustodyError
from asap_sync.storage.migrate import SchemaOutOfDate, check_up_to_date, current_revision

DataDirOption = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        envvar="ASAP_SYNC_DATA_DIR",
        help="Data directory of the embedded SQLite database (default: asap-data).",
        show_default=False,
    ),
]
DatabaseUrlOption = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        envvar="ASAP_SYNC_DATABASE_URL",
        help="Database URL, e.g. postgresql://user:pass@host:5432/asap; unset: SQLite in the "
        "data directory.",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def fail(message: str) -> NoReturn:
    """One line on stderr and a non-zero exit status; never a stack trace."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


@contextmanager
def operator_errors() -> Iterator[None]:
    """Turn what an operator can get wrong, or a database that is down, into one line."""
    try:
        yield
    except (AdminError, SchemaOutOfDate, CustodyError) as exc:
        fail(str(exc))
    except SQLAlchemyError as exc:
        cause = getattr(exc, "orig", None) or exc
        fail(f"database error: {str(cause).strip().splitlines()[0]}")


def settings_for(data_dir: Path | None, database_url: str | None, **more: Any) -> Settings:
    """Defaults, then ``ASAP_SYNC_*`` variables, then flags."""
    try:
        settings = Settings.from_env(data_dir=data_dir, database_url=database_url, **more)
        ZoneInfo(settings.timezone)
    except ValueError as exc:
        fail(str(exc))
    except ZoneInfoNotFoundError:
        fail(f"unknown time zone {settings.timezone!r} (ASAP_SYNC_TIMEZONE)")
    return settings


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


@dataclass(frozen=True, kw_only=True)
class Operator:
    """An open database for one command."""

    settings: Settings
    engine: Engine
    sessions: SqlAdminSessions

    @property
    def zone(self) -> tzinfo:
        """The platform's time zone: dates mean midnight there, times are shown there."""
        return ZoneInfo(self.settings.timezone)


@contextmanager
def open_operator(data_dir: Path | None, database_url: str | None) -> Iterator[Operator]:
    """The migrated database the options name; a missing embedded database is an error."""
    settings = settings_for(data_dir, database_url)
    with operator_errors():
        path = embedded_database(settings)
        if path is not None and not path.exists():
            fail(
                f"no database at {path.resolve()}: run `asap-sync init` or point --data-dir "
                "(ASAP_SYNC_DATA_DIR) at the data directory"
            )
        engine = engine_for(settings)
        try:
            require_migrated(engine, settings)
            yield Operator(settings=settings, engine=engine, sessions=SqlAdminSessions(engine))
        finally:
            engine.dispose()


# -- output -------------------------------------------------------------------------------


def show_time(moment: datetime | None, zone: tzinfo) -> str:
    """A moment in the platform's zone, to the second, for tables; "-" for none.

    Tables name the zone in their title; JSON output keeps full ISO 8601 with offset.
    """
    return "-" if moment is None else moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.days
    if isinstance(value, tuple | set | frozenset):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def record(value: Any, **extra: Any) -> dict[str, Any]:
    """A dataclass record as a dict for JSON output, with computed extras."""
    return {**dataclasses.asdict(value), **extra}


def print_json(items: Sequence[dict[str, Any]]) -> None:
    """Machine-readable output: one JSON array, datetimes in ISO 8601 with offset."""
    typer.echo(json.dumps(list(items), indent=2, ensure_ascii=False, default=_json_default))


def print_table(
    title: str, columns: Sequence[str], rows: Sequence[Sequence[str]], *, zone: tzinfo
) -> None:
    """A rich table; an empty listing says so instead of printing an empty frame."""
    console = Console()
    if not rows:
        console.print(f"No {title.lower()}.")
        return
    table = Table(title=f"{title} (times in {zone})", title_justify="left")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*row)
    console.print(table)
