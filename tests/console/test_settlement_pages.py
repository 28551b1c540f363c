"""Closing from the console: the preview is what the close seals; exports are the CLI's."""

from __future__ import annotations

import csv
import io
import json
import threading
import time
from datetime import timedelta
from typing import Any

import pytest

from asap_sync.console import pages_settlement
from asap_sync.domain.money import format_minor_hkd
from asap_sync.service import exports
from asap_sync.storage.statement_queries import statement_queries
from tests.console.conftest import Site, csrf_of


def _preview_rows(html: str) -> dict[str, list[str]]:
    rows = {}
    for chunk in html.split('<tr data-merchant="')[1:]:
        merchant = chunk.split('"', 1)[0]
        cells = [c.split("</td>", 1)[0] for c in chunk.split('<td class="num">')[1:]]
        rows[merchant] = cells
    return rows


def test_the_close_preview_equals_the_statements_the_close_seals(site: Site) -> None:
    client = site.login("fin")
    page = client.get("/console/periods/2026-01/preview")
    assert page.status_code == 200
    previewed = _preview_rows(page.text)
    assert set(previewed) == {"M-1", "M-2"}
    with statement_queries(site.engine) as q:
        assert list(q.statements(period="2026-01")) == []  # the preview sealed nothing
    closed = client.post("/console/periods/2026-01/close", data={"csrf": csrf_of(page.text)})
    assert closed.status_code == 303
    assert "CLOSED" in closed.headers["location"]
    with statement_queries(site.engine) as q:
        sealed = {s.merchant_id: s for s in q.statements(period="2026-01")}
    for merchant, s in sealed.items():
        t = s.totals
        assert previewed[merchant] == [
            str(t.transaction_count),
            str(t.pay_count),
            str(t.refund_count),
            format_minor_hkd(t.gross_minor),
            format_minor_hkd(t.refunded_minor),
            str(s.line_count),
            "0",  # the refund reverses a line of the same statement: nothing carried
            format_minor_hkd(s.commission_minor),
        ]


def _close(site: Site) -> int:
    client = site.login("fin")
    token = csrf_of(client.get("/console/periods").text)
    assert client.post("/console/periods/2026-01/close", data={"csrf": token}).status_code == 303
    with statement_queries(site.engine) as q:
        return next(iter(q.statements(period="2026-01"))).statement_id


def test_a_period_export_is_byte_for_byte_the_cli_export(site: Site) -> None:
    statement_id = _close(site)
    client = site.login("fin")
    for fmt, write in (("csv", exports.write_period_csv), ("json", exports.write_period_json)):
        expected = io.StringIO()
        with statement_queries(site.engine) as q:
            write(q, "2026-01", expected)
        answer = client.get(f"/console/periods/2026-01/export?format={fmt}")
        assert answer.status_code == 200
        assert answer.text == expected.getvalue()
        assert f"period-2026-01.{fmt}" in answer.headers["content-disposition"]
    expected = io.StringIO()
    with statement_queries(site.engine) as q:
        exports.write_statement_json(q, statement_id, expected)
    answer = client.get(f"/console/statements/{statement_id}/export?format=json")
    assert answer.text == expected.getvalue()
    json.loads(answer.text)


def test_the_column_picker_keeps_only_the_chosen_columns(site: Site) -> None:
    statement_id = _close(site)
    client = site.login("fin")
    answer = client.get(
        f"/console/statements/{statement_id}/export",
        params=[("format", "csv"), ("column", "out_trans_id"), ("column", "commission_e4")],
    )
    rows = list(csv.reader(io.StringIO(answer.text)))
    assert rows[0] == ["out_trans_id", "commission_e4"]
    assert len(rows) > 1 and all(len(r) == 2 for r in rows)
    picked = client.get(
        f"/console/statements/{statement_id}/export",
        params=[("format", "json"), ("column", "out_trans_id")],
    ).json()
    assert all(set(line) == {"outTransId"} for line in picked["lines"])


def test_a_viewer_cannot_export(site: Site) -> None:
    assert site.login("vic").get("/console/periods/2026-01/export").status_code == 403


def test_closing_then_assigning_is_in_the_activity_log(site: Site) -> None:
    _close(site)
    client = site.login("fin")
    token = csrf_of(client.get("/console/periods").text)
    assert client.post("/console/periods/2026-01/assign", data={"csrf": token}).status_code == 303
    log = client.get("/console/activity").text
    assert "period.close" in log and "period.assign" in log
    assert "status=ASSIGNED" in log


def test_closing_the_running_month_is_refused_with_the_rule(site: Site) -> None:
    client = site.login("fin")
    page = client.get("/console/periods/2026-02/preview")
    assert "current month" in page.text
    answer = client.post(
        "/console/periods/2026-02/close",
        data={"csrf": csrf_of(page.text)},
        headers={"referer": "http://testserver/console/periods/2026-02/preview"},
    )
    assert answer.status_code == 303
    assert "current+month" in answer.headers["location"]
    assert answer.headers["location"].startswith("/console/periods/2026-02/preview?error=")


def test_an_audit_run_is_kept_with_its_findings(site: Site) -> None:
    client = site.login("fin")
    token = csrf_of(client.get("/console/audit").text)
    answer = client.post("/console/audit/run", data={"csrf": token})
    assert answer.status_code == 303
    run = client.get(answer.headers["location"])
    assert "OK" in run.text
    assert "Run 1" in client.get("/console/").text or "run 1" in client.get("/console/").text
    assert "audit.run" in client.get("/console/activity").text


def test_a_long_preview_runs_in_the_background_and_its_result_is_kept(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = threading.Event()
    real = pages_settlement.preview_close

    def held(*args: Any, **kw: Any) -> Any:
        gate.wait(10)  # a period too large to preview within the page's wait
        return real(*args, **kw)

    monkeypatch.setattr(pages_settlement, "preview_close", held)
    monkeypatch.setattr(pages_settlement, "INLINE_WAIT", 0.05)
    client = site.login("fin")
    running = client.get("/console/periods/2026-01/preview")
    assert running.status_code == 200
    assert 'hx-get="/console/periods/2026-01/preview/progress"' in running.text
    assert _preview_rows(running.text) == {}
    progress = client.get("/console/periods/2026-01/preview/progress")
    assert "built so far" in progress.text and "HX-Refresh" not in progress.headers
    gate.set()
    assert "Done: 2 statements" in _finished(client).text
    page = client.get("/console/periods/2026-01/preview")
    assert 'id="preview-kept"' in page.text and "Recompute the preview" in page.text
    kept = _preview_rows(page.text)
    assert set(kept) == {"M-1", "M-2"}
    # Kept, not recomputed by a visit: a sync since then shows only after "Recompute".
    site.ledger.now = site.ledger.now.replace(day=1) - timedelta(days=2)
    site.ledger.pay("M-1", "late-jan", 5_000)
    assert _preview_rows(client.get("/console/periods/2026-01/preview").text) == kept
    again = client.post("/console/periods/2026-01/preview", data={"csrf": csrf_of(page.text)})
    assert again.status_code == 303
    _finished(client)
    fresh = _preview_rows(client.get("/console/periods/2026-01/preview").text)
    assert int(fresh["M-1"][0]) == int(kept["M-1"][0]) + 1


def _finished(client: Any) -> Any:
    """The progress fragment once the running preview is done (it asks htmx for a reload)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        progress = client.get("/console/periods/2026-01/preview/progress")
        if progress.headers.get("HX-Refresh") == "true":
            return progress
        time.sleep(0.02)
    raise AssertionError("the preview did not finish")
