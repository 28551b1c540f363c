"""An in-process server (the real ASGI app on a real database) with its own Prometheus observer,
reached over an ASGI transport."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from asap_sync.bootstrap import build_app
from asap_sync.config import Settings
from asap_sync.http.app import AsgiApp
from asap_sync.http.metrics import PrometheusObserver
from asap_sync.service.observer import Observer
from asap_sync.wire import ENDPOINT_PATH, format_response_time
from tests.kit import encode, register, signed_headers

NOW = datetime.fromisoformat("2025-04-20T10:00:00+08:00")


class Served:
    """The app, its observer, and a way to send it signed syncs and plain GETs."""

    def __init__(self, engine: Engine, observer: Observer) -> None:
        self.engine, self.observer = engine, observer
        self.app: AsgiApp = build_app(
            Settings(), engine=engine, clock=lambda: NOW, observer=observer
        )

    def request(self, method: str, path: str, **options: Any) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                return await client.request(method, path, **options)

        return asyncio.run(go())

    def sync(self, body: dict[str, Any], **options: Any) -> httpx.Response:
        raw = encode(body)
        headers = signed_headers(raw, request_time=format_response_time(NOW))
        headers.update(options.pop("headers", {}))
        return self.request("POST", ENDPOINT_PATH, content=raw, headers=headers, **options)


@pytest.fixture
def served(engine: Engine) -> Iterator[Served]:
    """A registered merchant and the app at NOW, observed by a fresh PrometheusObserver."""
    register(engine)
    yield Served(engine, PrometheusObserver())


def sample(served: Served, name: str, **labels: str) -> float:
    """A metric's current value (0 when it has none yet)."""
    assert isinstance(served.observer, PrometheusObserver)
    value = served.observer.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value
