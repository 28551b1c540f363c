"""An in-process platform: the real endpoint, storage and rules, with a controllable clock."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from asap_sync.bootstrap import build_app
from asap_sync.config import Settings
from asap_sync.http.gateway import RawRequest
from asap_sync.storage.tables import transactions
from asap_sync.wire import (
    ENDPOINT_PATH,
    SyncResult,
    format_response_time,
    parse_signature_header,
    signing_content,
    verify,
)
from tests.kit import encode, platform_key, register, signed_headers

NOW = datetime.fromisoformat("2025-04-20T10:00:00+08:00")


class Platform:
    """Sends signed syncs straight into the endpoint and checks every answer's signature."""

    def __init__(self, engine: Engine, **settings: Any) -> None:
        self.engine = engine
        self.now = NOW
        app = build_app(Settings(**settings), engine=engine, clock=lambda: self.now)
        self.apis = app.apis

    def advance(self, **delta: float) -> None:
        self.now = self.now + timedelta(**delta)

    def send(
        self,
        body: dict[str, Any] | bytes,
        *,
        headers: dict[str, str] | None = None,
        drop: tuple[str, ...] = (),
        method: str = "POST",
        path: str = ENDPOINT_PATH,
        request_time: str | None = None,
        too_large: bool = False,
        source: str = "",
        **sign_options: Any,
    ) -> SyncResult:
        raw = body if isinstance(body, bytes) else encode(body)
        sent_at = request_time or format_response_time(self.now)
        all_headers = signed_headers(
            raw, request_time=sent_at, method=method, path=path, **sign_options
        )
        all_headers.update(headers or {})
        lower = {k.lower(): v for k, v in all_headers.items() if k not in drop}
        answer = self.apis.handle_blocking(
            RawRequest(
                method=method,
                path=path,
                headers=lower,
                body=raw,
                body_too_large=too_large,
                source=source,
            )
        )
        headers_out = dict(answer.headers)
        content = signing_content(
            method, path, headers_out["client-id"], headers_out["response-time"], answer.body
        )
        signature = parse_signature_header(headers_out["signature"]).signature
        assert verify(content, signature, platform_key().public_key()), "answer not signed"
        return answer.result

    def count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(transactions)).scalar_one())


@pytest.fixture
def platform(engine: Engine) -> Platform:
    """A registered merchant (contract from 2025-01-01) and the platform at NOW."""
    register(engine)
    return Platform(engine)
