"""The signed-API pipeline: a second API is a route and a handler, and gets every gateway check,
rejection logging, answer signing and the observer without a change to the pipeline."""

from __future__ import annotations

from sqlalchemy import select

from asap_sync.http.pipeline import Handled, Verified
from asap_sync.service.observer import NullObserver
from asap_sync.storage.tables import rejections
from asap_sync.wire import SyncResult
from tests.integration.conftest import Platform
from tests.kit import CLIENT_ID

TOY_PATH = "/amsin/api/v1/business/toy"


class Toy:
    """A second signed API: it records what reached it and succeeds."""

    api = "toy"

    def __init__(self) -> None:
        self.seen: list[Verified] = []

    async def __call__(self, verified: Verified) -> Handled | None:
        self.seen.append(verified)
        return Handled(result=SyncResult.ok(), confirmed=False, request_id="toy")


class Recorder(NullObserver):
    """An observer that keeps every answer's API and code."""

    def __init__(self) -> None:
        self.codes: list[tuple[str, str]] = []

    def answered(self, *, api: str, code: str, seconds: float) -> None:
        self.codes.append((api, code))


def test_a_registered_api_gets_verified_requests_and_signed_answers(platform: Platform) -> None:
    toy = Toy()
    platform.apis.routes[TOY_PATH] = toy
    assert platform.send(b'{"any": "body"}', path=TOY_PATH).success  # the answer verified
    [verified] = toy.seen
    assert (verified.client_id, verified.key_version) == (CLIENT_ID, 1)
    assert verified.request.body == b'{"any": "body"}'


def test_a_badly_signed_request_never_reaches_the_handler_and_is_counted(
    platform: Platform,
) -> None:
    toy = Toy()
    platform.apis.routes[TOY_PATH] = toy
    result = platform.send(
        b"{}", path=TOY_PATH, headers={"Signature": "algorithm=RSA256, signature=AAAA"}
    )
    assert result.error_code == "INVALID_SIGNATURE"
    assert toy.seen == []
    assert platform.apis.refusals is not None
    platform.apis.refusals.flush()  # an unauthenticated caller's rejections are counted first
    with platform.engine.connect() as conn:
        assert conn.execute(select(rejections.c.code)).scalars().all() == ["INVALID_SIGNATURE"]


def test_the_observer_sees_every_answer_of_every_api(platform: Platform) -> None:
    recorder = Recorder()
    platform.apis.observer = recorder
    platform.apis.routes[TOY_PATH] = Toy()
    platform.send(b"{}", path=TOY_PATH)
    platform.send(b"{}", method="GET", path=TOY_PATH)
    assert recorder.codes == [("toy", "SUCCESS"), ("toy", "METHOD_NOT_SUPPORTED")]
