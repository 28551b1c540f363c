"""The async client shares the rules of the blocking one."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from asap_sync import wire
from asap_sync.client import AsyncClient, OrderNotExistError, RetryPolicy, SyncResponse

from .fakes import CLIENT_ID, FakeClock, FakePlatform
from .test_client_sync import a_payment


def make_async_client(
    platform: FakePlatform, merchant_key: rsa.RSAPrivateKey, clock: FakeClock, slept: list[float]
) -> AsyncClient:
    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    return AsyncClient(
        "https://asap.test/",
        client_id=CLIENT_ID,
        private_key=wire.private_key_base64(merchant_key),
        platform_public_key=wire.public_key_pem(platform.platform_private_key.public_key()),
        transport=httpx.MockTransport(platform.handle),
        clock=clock,
        sleep=sleep,
        random=lambda: 1.0,
        retry=RetryPolicy(max_attempts=3, initial_delay=0.25, max_delay=1.0),
    )


def run_sync(client: AsyncClient, *steps: object) -> SyncResponse:
    async def go() -> SyncResponse:
        async with client:
            return await client.sync(a_payment())

    return asyncio.run(go())


def test_the_async_client_retries_then_returns_the_verified_success(
    platform: FakePlatform, merchant_key: rsa.RSAPrivateKey, clock: FakeClock
) -> None:
    slept: list[float] = []
    platform.script(httpx.ConnectError("down"), wire.ResultCode.SYSTEM_ERROR)
    result = run_sync(make_async_client(platform, merchant_key, clock, slept))
    assert result.attempts == 3
    assert slept == [0.25, 0.5]
    assert platform.accepted == {"T-1": 1}


def test_the_async_client_raises_the_rejection_of_its_code(
    platform: FakePlatform, merchant_key: rsa.RSAPrivateKey, clock: FakeClock
) -> None:
    platform.script(wire.ResultCode.ORDER_NOT_EXIST)
    with pytest.raises(OrderNotExistError):
        run_sync(make_async_client(platform, merchant_key, clock, []))
