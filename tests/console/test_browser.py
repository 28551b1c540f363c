"""The console in a real browser (Debian's Chromium driven by Playwright): every role, every
page, the forms and their refusals, the close preview, an export, accessibility basics.

Set ``ASAP_SYNC_CONSOLE_SCREENSHOTS=1`` to also write each page's screenshot to docs/console/
(the operator guide shows them); the gate leaves the files alone.
"""

from __future__ import annotations

import io
import os
import shutil
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlalchemy import Engine, insert

from asap_sync.bootstrap import build_admin_app
from asap_sync.config import Settings
from asap_sync.console import pages_settlement
from asap_sync.domain.money import format_minor_hkd
from asap_sync.service import exports
from asap_sync.storage.directory import SqlKeyUse
from asap_sync.storage.engine import make_engine
from asap_sync.storage.migrate import upgrade
from asap_sync.storage.statement_queries import statement_queries
from asap_sync.storage.tables import rejections
from tests.console.conftest import MERCHANTS, PASSWORD, seed
from tests.settlement.kit import Ledger

playwright_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "console"

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed (./run setup does it)"
)

PAGES = {
    "overview": "/console/",
    "transactions": "/console/transactions",
    "transaction": "/console/transactions/1",
    "rejections": "/console/rejections",
    "clients": "/console/clients",
    "merchants": "/console/merchants",
    "contracts": "/console/contracts",
    "periods": "/console/periods",
    "preview": "/console/periods/2026-01/preview",
    "statements": "/console/statements",
    "audit": "/console/audit",
    "operators": "/console/operators",
    "activity": "/console/activity",
}


def _busy_fortnight(ledger: Ledger, engine: Engine) -> None:
    """Syncs and rejections on each of the last fourteen days, for pages worth a screenshot."""
    end = ledger.now
    rows = []
    for day in range(13, -1, -1):
        ledger.now = end - timedelta(days=day, hours=3)
        for n in range(3 + (day * 7) % 5):
            merchant = MERCHANTS[n % 2]
            ledger.pay(merchant, f"d{day}-{n}", 10_000 + 2_500 * n, goods=[("RENEWAL", 10_000)])
        for n, code in enumerate(
            ["INVALID_SIGNATURE", "REQUEST_PARAM_ILLEGAL", "REQUEST_TRAFFIC_EXCEED_LIMIT"]
        ):
            rows += [
                {
                    "received_at": ledger.now + timedelta(minutes=k),
                    "client_id": "client-1",
                    "merchant_id": "M-1",
                    "code": code,
                    "context": "{}",
                    "source": f"192.0.2.{n + 1}",
                }
                for k in range((day + n) % 4)
            ]
    with engine.begin() as conn:
        conn.execute(insert(rejections), rows)
    ledger.now = end


class Server:
    """The admin app on a free loopback port, in a thread, for the module's tests."""

    def __init__(self, engine: Engine, tmp: Path) -> None:
        self.ledger = seed(engine)
        _busy_fortnight(self.ledger, engine)
        self.engine = engine
        app = build_admin_app(Settings(data_dir=tmp), engine=engine, clock=lambda: self.ledger.now)
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Server]]:
    tmp = tmp_path_factory.mktemp("console-browser")
    engine = make_engine(f"sqlite:///{tmp / 'asap-sync.sqlite3'}")
    upgrade(engine)
    server = Server(engine, tmp)
    with server as base:
        yield base, server
    engine.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page_for(live: tuple[str, Server], browser: object) -> Iterator[object]:
    base, _server = live
    contexts = []

    def open_as(name: str, password: str = PASSWORD) -> object:
        context = browser.new_context(  # type: ignore[attr-defined]
            base_url=base, viewport={"width": 1280, "height": 900}, accept_downloads=True
        )
        contexts.append(context)
        page = context.new_page()
        page.errors = []
        page.on("pageerror", lambda exc: page.errors.append(str(exc)))
        page.on(
            "console",
            lambda msg: page.errors.append(msg.text) if msg.type == "error" else None,
        )
        page.goto("/console/login")
        page.get_by_label("Name").fill(name)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_load_state()
        return page

    yield open_as
    for context in contexts:
        context.close()


def _screenshot(page: object, name: str) -> None:
    if os.environ.get("ASAP_SYNC_CONSOLE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("name", "sees_operators"), [("ada", True), ("fin", False), ("vic", False)]
)
def test_each_role_logs_in_and_sees_the_menu_of_its_role(
    page_for: object, name: str, sees_operators: bool
) -> None:
    page = page_for(name)  # type: ignore[operator]
    assert page.url.endswith("/console/")
    assert page.get_by_role("heading", name="Overview").is_visible()
    nav = page.get_by_role("navigation", name="Main")
    assert nav.get_by_role("link", name="Operators").count() == (1 if sees_operators else 0)
    assert f"{name} (" in page.locator("header").inner_text()


def test_a_wrong_password_shows_the_refusal(page_for: object) -> None:
    page = page_for("vic", "this is not the password")  # type: ignore[operator]
    assert "/console/login" in page.url
    assert page.get_by_role("alert").inner_text().startswith("Wrong name or password")


def test_every_page_renders_without_a_script_error(page_for: object) -> None:
    page = page_for("ada")  # type: ignore[operator]
    for name, path in PAGES.items():
        page.goto(path)
        page.wait_for_load_state("networkidle")
        assert page.locator("h1").count() == 1, name
        if name == "overview":
            drawn = page.evaluate("() => Boolean(Chart.getChart('daily-chart'))")
            assert drawn, "the vendored chart library drew the daily chart"
        _screenshot(page, name)
    assert page.errors == []


def test_every_form_control_has_a_label(page_for: object) -> None:
    page = page_for("ada")  # type: ignore[operator]
    unlabelled_js = (
        "() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]"
        ".filter(e => e.labels.length === 0 && !e.getAttribute('aria-label'))"
        ".map(e => e.name || e.id)"
    )
    for name, path in PAGES.items():
        page.goto(path)
        assert page.evaluate(unlabelled_js) == [], name


def test_the_keyboard_reaches_the_skip_link_and_the_login_form(
    live: tuple[str, Server], browser: object
) -> None:
    base, _server = live
    context = browser.new_context(base_url=base)  # type: ignore[attr-defined]
    page = context.new_page()
    page.goto("/console/login")
    assert page.evaluate("() => document.activeElement.id") == "name"
    page.keyboard.type("vic")
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.id") == "password"
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url("**/console/")
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "main"
    context.close()


def test_the_re_verify_button_checks_the_signature_in_place(page_for: object) -> None:
    page = page_for("vic")  # type: ignore[operator]
    page.goto("/console/transactions/1")
    page.get_by_role("button", name="Re-verify the signature").click()
    result = page.locator("#verify-result")
    result.get_by_text("verifies with the client's key").wait_for()
    assert page.errors == []


def test_a_viewer_has_no_close_button_and_a_forged_close_is_refused(page_for: object) -> None:
    page = page_for("vic")  # type: ignore[operator]
    page.goto("/console/periods/2026-01/preview")
    assert page.get_by_role("button", name="Close 2026-01 now").count() == 0
    status = page.evaluate(
        """async () => (await fetch('/console/periods/2026-01/close', {method: 'POST',
            headers: {'Content-Type': 'application/x-www-form-urlencoded'}, body: 'x=1'})).status"""
    )
    assert status == 403


def test_an_admin_form_refusal_is_shown_on_the_page(page_for: object) -> None:
    page = page_for("ada")  # type: ignore[operator]
    page.goto("/console/contracts")
    page.get_by_label("Contract id").fill("C-overlap")
    page.get_by_label("merchantId").fill("M-1")
    page.get_by_label("Valid from (date, or datetime with offset)").fill("2025-06-01")
    page.get_by_role("button", name="Add contract").click()
    page.wait_for_load_state()
    assert "overlap" in page.get_by_role("alert").inner_text().lower()
    _screenshot(page, "contracts-refused")


def test_the_close_preview_is_what_the_close_seals(
    page_for: object, live: tuple[str, Server]
) -> None:
    _base, server = live
    page = page_for("fin")  # type: ignore[operator]
    page.goto("/console/periods/2026-01/preview")
    preview = page.locator("#preview tbody tr").all_inner_texts()
    page.get_by_role("button", name="Close 2026-01 now").click()
    page.wait_for_load_state()
    assert "Period 2026-01 is CLOSED" in page.get_by_role("status").inner_text()
    _screenshot(page, "statements-after-close")
    with statement_queries(server.engine) as q:
        sealed = {s.merchant_id: s for s in q.statements(period="2026-01")}
    assert len(preview) == len(sealed) == 2
    for row in preview:
        merchant, count, *_rest = row.split("\t")
        assert int(count) == sealed[merchant].totals.transaction_count
        assert row.split("\t")[-1] == format_minor_hkd(sealed[merchant].commission_minor)


def test_a_csv_export_downloads_the_bytes_of_the_cli_export(
    page_for: object, live: tuple[str, Server]
) -> None:
    _base, server = live
    with statement_queries(server.engine) as q:
        statement = next(iter(q.statements(period="2026-01")))
        expected = io.StringIO()
        exports.write_statement_csv(q, statement.statement_id, expected)
    page = page_for("fin")  # type: ignore[operator]
    page.goto(f"/console/statements/{statement.statement_id}")
    _screenshot(page, "statement")
    with page.expect_download() as download:
        page.get_by_role("button", name="Export").click()
    path = download.value.path()
    assert Path(path).read_text(encoding="utf-8") == expected.getvalue()


def test_rejections_filter_by_source_and_a_flood_is_one_row_a_day(page_for: object) -> None:
    page = page_for("vic")  # type: ignore[operator]
    page.goto("/console/rejections?days=14")
    page.get_by_label("Source address").fill("192.0.2.1")
    page.get_by_role("button", name="Show").click()
    page.wait_for_load_state()
    rows = [r.split("\t") for r in page.locator("table tbody tr").all_inner_texts()]
    assert rows and all(r[3] == "192.0.2.1" and r[1] == "INVALID_SIGNATURE" for r in rows)
    assert len({r[0] for r in rows}) == len(rows)  # one row per day for the one source
    assert "come from the day summaries" in page.locator("main").inner_text()
    _screenshot(page, "rejections-by-source")
    assert page.errors == []


def test_a_long_close_preview_shows_its_progress_then_its_kept_result(
    page_for: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = threading.Event()
    real = pages_settlement.preview_close

    def held(*args: Any, **kw: Any) -> Any:
        gate.wait(20)
        return real(*args, **kw)

    monkeypatch.setattr(pages_settlement, "preview_close", held)
    monkeypatch.setattr(pages_settlement, "INLINE_WAIT", 0.05)
    page = page_for("fin")  # type: ignore[operator]
    page.goto("/console/periods/2026-02/preview")
    assert "built so far" in page.locator("#preview-progress").inner_text()
    _screenshot(page, "preview-running")
    gate.set()
    page.locator("#preview-kept").wait_for(timeout=15_000)  # htmx polled, then reloaded
    assert page.locator("#preview").is_visible()
    assert page.get_by_role("button", name="Recompute the preview").is_visible()
    assert page.errors == []


def test_the_clients_page_shows_a_keys_last_use(page_for: object, live: tuple[str, Server]) -> None:
    _base, server = live
    used = datetime(2026, 1, 7, 4, 0, tzinfo=UTC)
    SqlKeyUse(server.engine).record_key_use({("client-1", 1): used})
    page = page_for("vic")  # type: ignore[operator]
    page.goto("/console/clients")
    keys = page.get_by_role("table", name="Public keys")
    assert "2026-01-07" in keys.locator("tbody tr").first.inner_text()
