"""Where the data is: one rule for every command (docs/cli.md, "Where the data is").

Each setting comes from, first to last: its flag; its ``ASAP_SYNC_*`` variable; the file
``asap-sync.toml`` in the current directory; ``asap-sync.toml`` in the data directory (server
settings only); the built-in default. The data directory itself comes from ``--data-dir``,
``ASAP_SYNC_DATA_DIR``, ``data_dir`` in ``./asap-sync.toml``, or ``./asap-data``. Nothing here
creates anything.
"""

from __future__ import annotations

import importlib.util
import os
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from sqlalchemy import make_url
from sqlalchemy.exc import ArgumentError

from asap_sync.cli import clicklib
from asap_sync.cli.conventions import bad_input
from asap_sync.config import ENV_PREFIX, Settings

CONFIG_FILE = "asap-sync.toml"
DEFAULT_DATA_DIR = Path("asap-data")
SERVER_SETTINGS = frozenset(f.name for f in fields(Settings))
# The merchant-side connection, read from ./asap-sync.toml by the commands that connect.
MERCHANT_SETTINGS = frozenset(
    {"base_url", "client_id", "private_key", "platform_public_key", "key_version"}
)
SETTING_NAMES = SERVER_SETTINGS | MERCHANT_SETTINGS
CONNECTING_COMMANDS = ("send", "bulk-send")
POSTGRES_EXTRA = "pip install 'asap-sync[postgres]'"


@dataclass(frozen=True, kw_only=True)
class Location:
    """Resolved settings and how the data directory was chosen (for error messages)."""

    settings: Settings
    data_dir_source: str


def read_config(path: Path) -> dict[str, Any]:
    """The settings of one ``asap-sync.toml``; none when it does not exist."""
    if not path.is_file():
        return {}
    try:
        values = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        bad_input(f"cannot read {path}: {exc}")
    unknown = sorted(set(values) - SETTING_NAMES)
    if unknown:
        bad_input(
            f"unknown setting {unknown[0]!r} in {path}: use {', '.join(sorted(SETTING_NAMES))}"
        )
    for name in ("data_dir", "private_key"):
        if name in values:
            values[name] = path.parent / str(values[name])
    return values


def merchant_defaults(groups: tuple[str, ...]) -> dict[str, Any]:
    """``./asap-sync.toml``'s merchant-side connection as click's ``default_map``: below the
    flags and the variables, above nothing."""
    values = read_config(Path.cwd() / CONFIG_FILE)
    connection = {k: str(v) for k, v in values.items() if k in MERCHANT_SETTINGS}
    if not connection:
        return {}
    commands = dict.fromkeys(CONNECTING_COMMANDS, connection)
    return {group: commands for group in groups}


def _flag_source(name: str, option: str) -> str | None:
    """``--data-dir`` or ``ASAP_SYNC_DATA_DIR``: where click found a parameter's value."""
    ctx = clicklib.get_current_context(silent=True)
    source = ctx.get_parameter_source(name) if ctx is not None else None
    if source is clicklib.ParameterSource.ENVIRONMENT:
        return ENV_PREFIX + name.upper()
    return option


def locate(data_dir: Path | None, database_url: str | None, **more: Any) -> Location:
    """Settings by the one rule; ``data_dir`` and ``database_url`` as click resolved them."""
    here = read_config(Path.cwd() / CONFIG_FILE)
    if data_dir is not None:
        source = _flag_source("data_dir", "--data-dir") or "--data-dir"
    elif "data_dir" in here:
        data_dir, source = Path(here["data_dir"]), f"data_dir in {Path.cwd() / CONFIG_FILE}"
    else:
        data_dir, source = DEFAULT_DATA_DIR, "the default ./asap-data"
    there = read_config(data_dir / CONFIG_FILE)
    from_files = {
        k: v for k, v in {**there, **here}.items() if k in SERVER_SETTINGS and k != "data_dir"
    }
    environ = {ENV_PREFIX + k.upper(): str(v) for k, v in from_files.items()}
    environ.update(os.environ)
    try:
        settings = Settings.from_env(environ, data_dir=data_dir, database_url=database_url, **more)
    except ValueError as exc:
        bad_input(str(exc))
    url = checked_database_url(settings.database_url)
    return Location(settings=settings.with_changes(database_url=url), data_dir_source=source)


def checked_database_url(url: str) -> str:
    """The URL, checked before any work: a known scheme and an installed driver.

    ``postgres://`` (as many hosts write it) is accepted for ``postgresql://``.
    """
    if not url:
        return url
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    try:
        parsed = make_url(url)
    except ArgumentError:
        bad_input(f"the database URL {url!r} is not a URL: use postgresql://user@host:5432/name")
    backend, _, driver = parsed.drivername.partition("+")
    if backend == "sqlite":
        return url
    if backend != "postgresql":
        bad_input(
            f"database {backend!r} is not supported: use postgresql://… , or no database URL "
            "for SQLite in the data directory"
        )
    if driver in ("", "psycopg") and importlib.util.find_spec("psycopg") is None:
        bad_input(f"PostgreSQL needs the psycopg driver, which is not installed: {POSTGRES_EXTRA}")
    return url
