"""Fixtures shared by every test level: databases (SQLite always, PostgreSQL when configured)."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from asap_sync.storage.engine import make_engine
from asap_sync.storage.migrate import upgrade
from asap_sync.storage.tables import metadata

POSTGRES_ENV = "ASAP_SYNC_TEST_POSTGRES_URL"


def _admin_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped at the end."""
    server = os.environ.get(POSTGRES_ENV)
    if not server:
        pytest.skip(
            f"PostgreSQL tests skipped: set {POSTGRES_ENV} (e.g. postgresql://postgres@127.0.0.1:5432/test)"
        )
    name = f"asap_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(_admin_url(server), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        # Set but unreachable is a broken CI, not a reason to skip: the production hot path
        # exists only on PostgreSQL.
        pytest.fail(f"{POSTGRES_ENV}={server} is set but unreachable ({exc.__class__.__name__})")
    base, _, _ = server.rpartition("/")
    url = f"{base}/{name}"
    upgrade(make_engine(url))
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def empty_postgres(engine: Engine) -> None:
    """Every table emptied and every id sequence restarted. DELETE of the few rows a test
    leaves takes milliseconds; TRUNCATE (new files for every table and index, fsynced) took
    about 30 times longer, and a database copied from a template about as long as TRUNCATE.
    directory_version keeps its one row: the gateway cache reads it on every request."""
    tables = [t.name for t in reversed(metadata.sorted_tables) if t.name != "directory_version"]
    with engine.begin() as conn:
        sequences = conn.execute(
            text(
                "SELECT oid::regclass::text FROM pg_class "
                "WHERE relkind = 'S' AND relnamespace = current_schema()::regnamespace"
            )
        ).scalars()
        restarts = [f"SELECT setval('{name}', 1, false)" for name in sequences]
        conn.exec_driver_sql("; ".join([f'DELETE FROM "{t}"' for t in tables] + restarts))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once per session; each test gets a copy (Alembic per test cost
    more than the tests themselves)."""
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()  # the last connection to close checkpoints the WAL into the file
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database: SQLite in a temp dir, then PostgreSQL when configured."""
    if request.param == "sqlite":
        path = tmp_path / "asap-sync.sqlite3"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    url = request.getfixturevalue("postgres_database")
    engine = make_engine(url)
    empty_postgres(engine)
    engine.dispose()
    yield url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on the test database."""
    eng = make_engine(database_url)
    yield eng
    eng.dispose()
