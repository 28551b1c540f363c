"""Operator fixtures: a temp data directory with SQLite, PostgreSQL when configured, a CLI runner.

The ``engine`` fixture of ``tests/conftest.py`` runs every storage test on SQLite and, when
``ASAP_SYNC_TEST_POSTGRES_URL`` is set, on a fresh PostgreSQL database made for the session.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import Result
from sqlalchemy import Engine
from typer.testing import CliRunner

from asap_sync.cli.main import app
from asap_sync.service.journal import Actor
from asap_sync.storage.admin import SqlAdminSessions
from asap_sync.storage.engine import make_engine
from tests.conftest import empty_postgres

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)

Cli = Callable[..., Result]


@pytest.fixture
def sessions(engine: Engine) -> SqlAdminSessions:
    """Admin units of work on the migrated test database (SQLite, then PostgreSQL)."""
    return SqlAdminSessions(engine, actor=Actor(name="cli:test", source="cli", at=NOW))


@pytest.fixture(autouse=True)
def no_asap_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's own ``ASAP_SYNC_*`` settings must not leak into the tests."""
    for name in list(os.environ):
        if name.startswith("ASAP_SYNC_") and name != "ASAP_SYNC_TEST_POSTGRES_URL":
            monkeypatch.delenv(name)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A data directory that does not exist yet, as on a fresh machine."""
    return tmp_path / "asap-data"


def _runner(where: list[str]) -> Cli:
    runner = CliRunner()

    def run(*args: str) -> Result:
        return runner.invoke(app, [*args, *where], catch_exceptions=False)

    return run


@pytest.fixture
def cli(data_dir: Path) -> Cli:
    """``asap-sync`` in-process on the temp data directory (SQLite)."""
    return _runner(["--data-dir", str(data_dir)])


def _empty_postgres(url: str) -> None:
    """The session's database emptied as every PostgreSQL test empties it: its one
    directory_version row kept (emptied, the version would read None from then on)."""
    engine = make_engine(url)
    try:
        empty_postgres(engine)
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_cli(request: pytest.FixtureRequest, data_dir: Path) -> Iterator[Cli]:
    """``asap-sync`` on SQLite, then on PostgreSQL when ``ASAP_SYNC_TEST_POSTGRES_URL`` is set."""
    if request.param == "sqlite":
        yield _runner(["--data-dir", str(data_dir)])
        return
    url = request.getfixturevalue("postgres_database")
    _empty_postgres(url)
    yield _runner(["--database-url", url])
