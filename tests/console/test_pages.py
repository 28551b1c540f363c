"""Every console page answers, for every role; what a role may not do is refused."""

from __future__ import annotations

import pytest

from tests.console.conftest import PASSWORD, Site, csrf_of, login

PAGES = [
    "/console/",
    "/console/rate",
    "/console/transactions",
    "/console/transactions?merchant_id=M-1&direction=PAY",
    "/console/transactions/1",
    "/console/rejections",
    "/console/clients",
    "/console/merchants",
    "/console/contracts",
    "/console/periods",
    "/console/periods/2026-01/preview",
    "/console/statements",
    "/console/audit",
    "/console/activity",
]


@pytest.mark.parametrize("name", ["ada", "fin", "vic"])
def test_every_page_answers_for_every_role(site: Site, name: str) -> None:
    client = site.login(name)
    for path in PAGES:
        answer = client.get(path)
        assert answer.status_code == 200, (path, answer.text[:500])
        assert "asap-sync" in answer.text or path == "/console/rate"  # a fragment


def test_a_page_without_a_session_sends_to_the_login(site: Site) -> None:
    answer = site.client().get("/console/transactions")
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/console/login?next=%2Fconsole%2Ftransactions")


def test_only_an_admin_sees_the_operators_page(site: Site) -> None:
    assert site.login("ada").get("/console/operators").status_code == 200
    refused = site.login("fin").get("/console/operators")
    assert refused.status_code == 403
    assert "needs admin" in refused.text


def test_a_wrong_password_is_refused_and_five_failures_lock_the_name(site: Site) -> None:
    client = site.client()
    for _ in range(5):
        answer = login(client, "vic", "not the password at all")
        assert "Wrong+name+or+password" in answer.headers["location"]
    locked = login(client, "vic", PASSWORD)
    assert "Too+many+failed+logins" in locked.headers["location"]
    assert client.get("/console/").status_code == 303


def test_the_session_cookie_is_http_only_and_same_site(site: Site) -> None:
    client = site.client()
    answer = login(client, "vic", PASSWORD)
    cookie = answer.headers["set-cookie"]
    assert "asap_console=" in cookie
    assert "httponly" in cookie.lower()
    assert "samesite=strict" in cookie.lower()
    assert "secure" not in cookie.lower()  # plain HTTP here; over TLS it is Secure


def test_a_post_without_its_csrf_token_is_refused(site: Site) -> None:
    client = site.login("ada")
    answer = client.post("/console/clients/add", data={"client_id": "sneaky"})
    assert answer.status_code == 403
    forged = client.post("/console/clients/add", data={"client_id": "sneaky", "csrf": "guess"})
    assert forged.status_code == 403
    assert "sneaky" not in client.get("/console/clients").text


def test_a_viewer_cannot_close_a_period(site: Site) -> None:
    client = site.login("vic")
    token = csrf_of(client.get("/console/periods").text)
    answer = client.post("/console/periods/2026-01/close", data={"csrf": token})
    assert answer.status_code == 403
    assert "2026-01" in client.get("/console/periods").text
    assert "CLOSED" not in client.get("/console/periods").text


def test_the_security_headers_forbid_framing_and_foreign_scripts(site: Site) -> None:
    answer = site.login("vic").get("/console/")
    assert answer.headers["x-frame-options"] == "DENY"
    assert "default-src 'self'" in answer.headers["content-security-policy"]
    assert answer.headers["cache-control"] == "no-store"


def test_the_vendored_scripts_are_served_from_the_package(site: Site) -> None:
    client = site.client()
    assert "htmx" in client.get("/console/static/htmx.min.js").text[:2000]
    assert "Chart.js" in client.get("/console/static/chart.umd.min.js").text[:200]
