"""Sessions, CSRF tokens, login throttling and roles, without a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from asap_sync.console.auth import LoginThrottle, SessionCodec, csrf_ok
from asap_sync.service.operator_ports import Role

T = datetime(2026, 1, 1, tzinfo=UTC)


def test_a_session_cookie_reads_back_and_a_tampered_one_does_not() -> None:
    codec = SessionCodec(b"k" * 32)
    session, cookie = codec.issue("ada", 3)
    assert codec.read(cookie) == session
    assert codec.read(cookie[:-2] + ("A" if cookie[-2] != "A" else "B") + cookie[-1]) is None
    assert SessionCodec(b"other key" * 4).read(cookie) is None
    assert codec.read("") is None


def test_an_expired_session_cookie_is_refused() -> None:
    codec = SessionCodec(b"k" * 32, max_age=timedelta(seconds=-1))
    _session, cookie = codec.issue("ada", 1)
    assert codec.read(cookie) is None


def test_the_csrf_token_must_match_exactly() -> None:
    assert csrf_ok("token", "token")
    assert not csrf_ok("token", "tokeN")
    assert not csrf_ok("token", None)
    assert not csrf_ok("", "")


def test_five_failures_lock_a_name_until_the_first_leaves_the_window() -> None:
    now = [T]
    throttle = LoginThrottle(lambda: now[0], limit=5, window=timedelta(minutes=15))
    for minute in range(5):
        assert throttle.retry_after("name:ada") is None
        now[0] = T + timedelta(minutes=minute)
        throttle.failed("name:ada", "address:1")
    assert throttle.retry_after("name:ada") == timedelta(minutes=11)
    assert throttle.retry_after("name:bob") is None
    assert throttle.retry_after("name:bob", "address:1") is not None
    now[0] = T + timedelta(minutes=15)
    assert throttle.retry_after("name:ada") is None


def test_a_successful_login_clears_the_names_failures() -> None:
    throttle = LoginThrottle(lambda: T, limit=2)
    throttle.failed("name:ada")
    throttle.succeeded("name:ada")
    throttle.failed("name:ada")
    assert throttle.retry_after("name:ada") is None


def test_roles_include_the_ones_below_them() -> None:
    assert Role.ADMIN.allows(Role.FINANCE) and Role.ADMIN.allows(Role.VIEWER)
    assert Role.FINANCE.allows(Role.VIEWER) and not Role.FINANCE.allows(Role.ADMIN)
    assert not Role.VIEWER.allows(Role.FINANCE)
