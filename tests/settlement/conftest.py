"""Settlement test fixtures: a migrated database per test, SQLite always, PostgreSQL when
``ASAP_SYNC_TEST_POSTGRES_URL`` names a reachable server (a fresh database per session)."""

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


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (migrating is slower than copying)."""
    path = tmp_path_factory.mktemp("settlement-template") / "template.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()  # the last connection to close checkpoints the WAL into the file
    return path


@pytest.fixture(scope="session")
def settlement_postgres() -> Iterator[str]:
    """A fresh, uniquely named PostgreSQL database for this session, dropped at the end."""
    server = os.environ.get(POSTGRES_ENV)
    if not server:
        pytest.skip(f"PostgreSQL settlement tests skipped: set {POSTGRES_ENV}")
    name = f"asap_settle_{uuid.uuid4().hex[:12]}"
    admin = create_engine(
        server.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
    )
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        pytest.skip(f"PostgreSQL settlement tests skipped: {server} unreachable ({exc})")
    url = f"{server.rpartition('/')[0]}/{name}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def fresh_database(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database URL of that kind."""
    if kind == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        path = tmp_path / f"db-{uuid.uuid4().hex[:8]}.sqlite3"
        shutil.copy(template, path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("settlement_postgres")
    engine = make_engine(url)
    truncate(engine)
    engine.dispose()
    return url


def truncate(engine: Engine) -> None:
    """Empty every table (PostgreSQL)."""
    names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", "postgresql"])
def settle_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An engine on a migrated, empty database."""
    engine = make_engine(fresh_database(request.param, request, tmp_path))
    yield engine
    engine.dispose()
