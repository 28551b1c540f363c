"""Keys, a fake platform and ready clients for the merchant SDK tests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from asap_sync import wire
from asap_sync.client import Client, RetryPolicy

from .fakes import CLIENT_ID, FakeClock, FakePlatform, RecordingSleep

REPO = Path(__file__).resolve().parents[2]


def vectors_path() -> Path:
    local = REPO / "tests" / "vectors" / "alipay-sdk-vectors.json"
    return local if local.exists() else Path("/work/shared/vectors/alipay-sdk-vectors.json")


@pytest.fixture(scope="session")
def vectors() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(vectors_path().read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="session")
def merchant_key(vectors: dict[str, Any]) -> rsa.RSAPrivateKey:
    return wire.load_private_key(vectors["privateKeyPkcs8Base64"])


@pytest.fixture(scope="session")
def platform_key() -> rsa.RSAPrivateKey:
    return wire.generate_private_key()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sleep() -> RecordingSleep:
    return RecordingSleep()


@pytest.fixture
def platform(
    merchant_key: rsa.RSAPrivateKey, platform_key: rsa.RSAPrivateKey, clock: FakeClock
) -> FakePlatform:
    return FakePlatform(
        merchant_public_key=merchant_key.public_key(),
        platform_private_key=platform_key,
        clock=clock,
    )


@pytest.fixture
def client(
    platform: FakePlatform,
    merchant_key: rsa.RSAPrivateKey,
    platform_key: rsa.RSAPrivateKey,
    clock: FakeClock,
    sleep: RecordingSleep,
) -> Iterator[Client]:
    with Client(
        "https://asap.test",
        client_id=CLIENT_ID,
        private_key=wire.private_key_pem(merchant_key),
        platform_public_key=wire.public_key_base64(platform_key.public_key()),
        key_version=2,
        transport=platform.transport,
        clock=clock,
        sleep=sleep,
        random=lambda: 0.5,
        retry=RetryPolicy(max_attempts=4, initial_delay=1.0, max_delay=3.0),
    ) as sdk:
        yield sdk


@pytest.fixture
def routed(platform: FakePlatform, monkeypatch: pytest.MonkeyPatch) -> FakePlatform:
    """Every real httpx transport in this test talks to the fake platform instead.

    The platform then answers with real time, as the CLI's client reads the real clock.
    """
    import httpx

    platform.clock = lambda: datetime.now(UTC)

    def handle(self: object, request: httpx.Request) -> httpx.Response:
        return platform.handle(request)

    async def handle_async(self: object, request: httpx.Request) -> httpx.Response:
        response = platform.handle(request)
        return httpx.Response(
            response.status_code, headers=response.headers, content=response.content
        )

    monkeypatch.setattr(httpx.HTTPTransport, "handle_request", handle)
    monkeypatch.setattr(httpx.AsyncHTTPTransport, "handle_async_request", handle_async)
    return platform


@pytest.fixture
def merchant_env(
    tmp_path: Path,
    merchant_key: rsa.RSAPrivateKey,
    platform_key: rsa.RSAPrivateKey,
    monkeypatch: pytest.MonkeyPatch,
) -> Path:
    """Key files on disk and the ASAP_SYNC_* variables the merchant commands read."""
    private = tmp_path / "merchant-private.pem"
    private.write_text(wire.private_key_pem(merchant_key))
    public = tmp_path / "platform-public.pem"
    public.write_text(wire.public_key_pem(platform_key.public_key()))
    monkeypatch.setenv("ASAP_SYNC_BASE_URL", "https://asap.test")
    monkeypatch.setenv("ASAP_SYNC_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("ASAP_SYNC_PRIVATE_KEY", str(private))
    monkeypatch.setenv("ASAP_SYNC_PLATFORM_PUBLIC_KEY", str(public))
    monkeypatch.chdir(tmp_path)
    return tmp_path
