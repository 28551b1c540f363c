"""Console fixtures: a ledger with two merchants, three operators (one per role), the admin app.

Every HTTP test runs on SQLite and, when ``ASAP_SYNC_TEST_POSTGRES_URL`` is set, on PostgreSQL.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from starlette.testclient import TestClient

from asap_sync.bootstrap import build_admin_app
from asap_sync.config import Settings
from asap_sync.console import pages_settlement
from asap_sync.service.operator_ports import Actor, Role
from asap_sync.service.operators import add_operator
from asap_sync.storage.engine import make_engine
from asap_sync.storage.operators import SqlOperatorSessions
from tests.settlement.conftest import (  # noqa: F401 (fixtures used by fresh_database)
    fresh_database,
    settlement_postgres,
    sqlite_template,
)
from tests.settlement.kit import T0, Ledger, register

PASSWORD = "correct horse battery staple"
OPERATORS = {"ada": Role.ADMIN, "fin": Role.FINANCE, "vic": Role.VIEWER}
MERCHANTS = ("M-1", "M-2")


@dataclass
class Site:
    """The seeded database, its ledger (with the clock the console reads) and the app."""

    engine: Engine
    ledger: Ledger
    app: object

    def client(self) -> TestClient:
        """A browser-less client with its own cookie jar."""
        return TestClient(self.app, base_url="http://testserver", follow_redirects=False)  # type: ignore[arg-type]

    def login(self, name: str, password: str = PASSWORD) -> TestClient:
        """A client logged in as ``name``."""
        client = self.client()
        answer = login(client, name, password)
        assert answer.headers["location"] == "/console/", answer.headers.get("location")
        return client


def login(client: TestClient, name: str, password: str) -> object:
    """Fill in and send the login form, as a browser would."""
    page = client.get("/console/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token is not None
    return client.post(
        "/console/login",
        data={"name": name, "password": password, "csrf": token.group(1), "next": "/console/"},
    )


def csrf_of(html: str) -> str:
    """The CSRF token a page carries in its forms."""
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def seed(engine: Engine) -> Ledger:
    """Two merchants paid (and one refunded) in January 2026; the clock in February 2026."""
    register(engine, MERCHANTS)
    ledger = Ledger(engine)
    ledger.pay("M-1", "pay-1", 100_000, goods=[("RENEWAL", 60_000), ("NEW_CONTRACT", 40_000)])
    ledger.pay("M-1", "pay-2", 50_000)
    ledger.pay("M-2", "pay-3", 80_000, goods=[("RENEWAL", 80_000)])
    ledger.now += timedelta(hours=2)
    ledger.refund("M-1", "refund-1", "pay-2", 20_000)
    ledger.now = T0 + timedelta(days=31)
    sessions = SqlOperatorSessions(engine)
    actor = Actor(name="cli:test", source="cli", at=ledger.now)
    for name, role in OPERATORS.items():
        add_operator(
            sessions, name, role=role, password=PASSWORD, salt=name.encode() * 4, actor=actor
        )
    return ledger


@pytest.fixture(params=["sqlite", "postgresql"])
def site(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Site]:
    """A seeded database and its console app."""
    engine = make_engine(fresh_database(request.param, request, tmp_path))
    ledger = seed(engine)
    settings = Settings(data_dir=tmp_path, timezone="Asia/Hong_Kong")
    app = build_admin_app(settings, engine=engine, clock=lambda: ledger.now)
    yield Site(engine=engine, ledger=ledger, app=app)
    engine.dispose()


@pytest.fixture(autouse=True)
def _small_previews_shown_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A loaded test machine may take longer than the page waits for a small close preview:
    the tests reading a preview's rows wait for it (the background path has its own tests)."""
    monkeypatch.setattr(pages_settlement, "INLINE_WAIT", 30.0)
