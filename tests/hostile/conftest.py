"""A real server per backend for the hostile suite: initialised, one merchant registered."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from asap_sync.storage.engine import make_engine
from asap_sync.storage.migrate import upgrade
from tests.conftest import empty_postgres
from tests.hostile.harness import HostileServer, start_hostile_server
from tests.kit import register

NO_BUDGETS = {"ASAP_SYNC_FAILURES_PER_SOURCE": "0", "ASAP_SYNC_FAILURES_PER_CLIENT_ID": "0"}


def prepared(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade(engine)
        if engine.dialect.name == "postgresql":
            empty_postgres(engine)
        register(engine)
    finally:
        engine.dispose()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def hostile_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HostileServer]:
    """``asap-sync serve`` (one worker, short deadlines) on SQLite, then on PostgreSQL."""
    data_dir = tmp_path_factory.mktemp("hostile") / "data"
    data_dir.mkdir(mode=0o700)
    if request.param == "sqlite":
        url = ""
        prepared(f"sqlite:///{data_dir / 'asap-sync.sqlite3'}")
    else:
        url = request.getfixturevalue("postgres_database")
        prepared(url)
    # Failure budgets off: each kind is judged on its own (test_refusals.py tests the budgets).
    server = start_hostile_server(data_dir, database_url=url, extra_env=NO_BUDGETS)
    yield server
    server.stop()


def data_dir_of(server: HostileServer) -> Path:
    return server.log.parent / "data"
