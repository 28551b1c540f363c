"""Administration from the console: the CLI's use cases and checks, each change logged."""

from __future__ import annotations

from datetime import UTC, datetime

from asap_sync.service.operator_ports import ChangeFilter
from asap_sync.service.operators import list_changes
from asap_sync.storage.directory import SqlKeyUse
from asap_sync.storage.operators import SqlOperatorSessions
from asap_sync.wire import generate_private_key, public_key_base64
from tests.console.conftest import PASSWORD, Site, csrf_of, login
from tests.settlement.kit import CLIENT


def _post(site: Site, who: str, path: str, page: str, /, **fields: str) -> str:
    client = site.login(who)
    token = csrf_of(client.get(page).text)
    answer = client.post(path, data={"csrf": token, **fields}, headers={"referer": page})
    assert answer.status_code == 303, answer.text[:300]
    return str(answer.headers["location"])


def test_an_admin_adds_a_client_and_the_activity_log_says_who_and_what(site: Site) -> None:
    where = _post(site, "ada", "/console/clients/add", "/console/clients", client_id="isv-9")
    assert "notice=Client+isv-9+added" in where
    change = list_changes(SqlOperatorSessions(site.engine), ChangeFilter(limit=1))[0].change
    assert (change.actor, change.source, change.action, change.subject) == (
        "ada",
        "console",
        "client.add",
        "isv-9",
    )
    assert change.after == {"name": "", "status": "active"}


def test_keys_links_and_contracts_go_through_the_cli_checks(site: Site) -> None:
    key = public_key_base64(generate_private_key().public_key())
    _post(site, "ada", "/console/clients/add", "/console/clients", client_id="isv-9")
    where = _post(site, "ada", "/console/keys/add", "/console/clients", client_id="isv-9", key=key)
    assert "Key+version+1+of+isv-9+added" in where
    bad = _post(site, "ada", "/console/keys/add", "/console/clients", client_id="isv-9", key="x")
    assert "error=" in bad and "not+usable" in bad
    linked = _post(
        site,
        "ada",
        "/console/merchants/link",
        "/console/merchants",
        client_id="isv-9",
        merchant_id="M-9",
    )
    assert "may+report+for+M-9" in linked
    overlap = _post(
        site,
        "ada",
        "/console/contracts/add",
        "/console/contracts",
        contract_id="C-again",
        merchant_id="M-1",
        valid_from="2025-06-01",
        rules="RENEWAL=rate:100",
    )
    assert "error=" in overlap and "overlap" in overlap.lower()
    added = _post(
        site,
        "ada",
        "/console/contracts/add",
        "/console/contracts",
        contract_id="C-9",
        merchant_id="M-9",
        valid_from="2026-01-01",
        rules="RENEWAL=rate:120\nNEW_CONTRACT=fixed:900",
    )
    assert "Contract+C-9+added" in added
    ended = _post(
        site,
        "ada",
        "/console/contracts/end",
        "/console/contracts",
        contract_id="C-9",
        at="2026-06-01",
    )
    assert "Contract+C-9+ends" in ended
    actions = [
        c.change.action
        for c in list_changes(SqlOperatorSessions(site.engine), ChangeFilter(limit=20))
    ]
    assert actions[:5] == ["contract.end", "contract.add", "merchant.link", "key.add", "client.add"]


def test_finance_cannot_manage_clients(site: Site) -> None:
    client = site.login("fin")
    token = csrf_of(client.get("/console/clients").text)
    answer = client.post("/console/clients/add", data={"csrf": token, "client_id": "isv-x"})
    assert answer.status_code == 403
    assert "Add a client" not in client.get("/console/clients").text


def test_disabling_an_operator_ends_its_open_sessions(site: Site) -> None:
    viewer = site.login("vic")
    assert viewer.get("/console/").status_code == 200
    _post(site, "ada", "/console/operators/disable", "/console/operators", name="vic")
    assert viewer.get("/console/").status_code == 303
    assert "Wrong" in login(site.client(), "vic", PASSWORD).headers["location"]


def test_a_password_reset_lets_the_operator_in_with_the_new_password_only(site: Site) -> None:
    _post(
        site,
        "ada",
        "/console/operators/reset-password",
        "/console/operators",
        name="vic",
        password="a brand new passphrase",
    )
    assert "Wrong" in login(site.client(), "vic", PASSWORD).headers["location"]
    assert site.login("vic", "a brand new passphrase").get("/console/").status_code == 200


def test_an_admin_cannot_disable_itself(site: Site) -> None:
    where = _post(site, "ada", "/console/operators/disable", "/console/operators", name="ada")
    assert "error=you+cannot+disable+your+own+account" in where


def test_a_short_password_is_refused(site: Site) -> None:
    where = _post(
        site,
        "ada",
        "/console/operators/add",
        "/console/operators",
        name="eve",
        role="viewer",
        password="short",
    )
    assert "at+least+12+characters" in where


def test_the_transaction_detail_re_verifies_the_signed_request(site: Site) -> None:
    client = site.login("vic")
    page = client.get("/console/transactions/1")
    assert "pay-1" in page.text and "RENEWAL" in page.text
    answer = client.post(
        "/console/transactions/1/verify", headers={"X-CSRF-Token": csrf_of(page.text)}
    )
    assert answer.status_code == 200
    assert "verifies with the client" in answer.text


def test_the_transaction_search_pages_backwards_with_a_keyset(site: Site) -> None:
    client = site.login("vic")
    for n in range(60):
        site.ledger.pay("M-2", f"bulk-{n}", 1000)
    first = client.get("/console/transactions?merchant_id=M-2")
    assert first.text.count('href="/console/transactions/') == 50
    assert "before=" in first.text
    following = first.text.split('rel="next" href="')[1].split('"')[0].replace("&amp;", "&")
    second = client.get(following)
    assert second.text.count('href="/console/transactions/') == 11
    found = client.get("/console/transactions?out_trans_id=refund-1").text
    assert "refund-1" in found and "pay-1" not in found
    by_origin = client.get("/console/transactions?origin_trans_id=pay-2").text
    assert "refund-1" in by_origin
    by_request = client.get("/console/transactions?request_id=r-1").text
    assert "pay-1" in by_request and "pay-3" not in by_request


def test_the_clients_page_shows_when_each_key_was_last_used(site: Site) -> None:
    page = site.login("vic").get("/console/clients").text
    assert "last used" in page and "2026-01-07" not in page
    used = datetime(2026, 1, 7, 4, 0, tzinfo=UTC)
    SqlKeyUse(site.engine).record_key_use({(CLIENT, 1): used})
    page = site.login("vic").get("/console/clients").text
    assert page.count("2026-01-07") == 2  # the client's row and its key's row
