"""/livez, /readyz and /openapi.json on the public listener; the request id header."""

from __future__ import annotations

import json
from typing import Any

import pytest
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate
from sqlalchemy import text

from asap_sync.http.probes import readiness_checks, run_checks
from asap_sync.service.directory import Directory
from asap_sync.storage.directory import SqlDirectoryReader
from asap_sync.storage.engine import make_engine
from asap_sync.wire import ResultCode, parse_sync_body
from asap_sync.wire.messages import ENDPOINT_PATH
from tests.kit import sync_body
from tests.observability.conftest import Served


def test_livez_answers_ok(served: Served) -> None:
    answer = served.request("GET", "/livez")
    assert (answer.status_code, answer.json()) == (200, {"status": "ok"})


def test_readyz_is_ready_with_every_check_named(served: Served) -> None:
    answer = served.request("GET", "/readyz")
    assert answer.status_code == 200
    assert answer.json() == {
        "status": "ok",
        "checks": {"database": "ok", "schema": "ok", "platform_key": "ok"},
    }


def test_readyz_is_unavailable_when_the_schema_is_behind_this_version(served: Served) -> None:
    with served.engine.begin() as conn:
        head = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
        conn.execute(text("UPDATE alembic_version SET version_num = '0004'"))
    try:
        answer = served.request("GET", "/readyz")
    finally:  # the PostgreSQL test database outlives this test
        with served.engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": head})
    assert answer.status_code == 503
    body = answer.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["schema"].startswith("at 0004, this version needs")
    assert body["checks"]["platform_key"] == "skipped"


def test_readyz_is_unavailable_without_an_active_platform_key(served: Served) -> None:
    with served.engine.begin() as conn:
        conn.execute(text("UPDATE platform_keys SET status = 'retired'"))
    answer = served.request("GET", "/readyz")
    assert answer.status_code == 503
    assert "no active platform signing key" in answer.json()["checks"]["platform_key"]


def test_a_database_that_cannot_be_reached_is_reported_as_such() -> None:
    engine = make_engine("postgresql://nobody@127.0.0.1:9/none")  # the discard port: refused
    try:
        ready, body = run_checks(readiness_checks(engine, Directory(SqlDirectoryReader(engine))))
    finally:
        engine.dispose()
    assert not ready
    assert body["checks"]["database"].startswith("unreachable: ")
    assert body["checks"]["schema"] == body["checks"]["platform_key"] == "skipped"


def test_every_answer_carries_a_request_id_and_a_sane_one_sent_is_kept(served: Served) -> None:
    made = served.sync(sync_body())
    assert len(made.headers["x-request-id"]) == 32
    kept = served.sync(sync_body(), headers={"X-Request-Id": "lb-7f3a.1"})
    assert kept.headers["x-request-id"] == "lb-7f3a.1"
    hostile = served.request("GET", "/livez", headers={"X-Request-Id": 'a b"{}' + "x" * 80})
    assert hostile.headers["x-request-id"] != 'a b"{}' + "x" * 80
    assert served.request("GET", "/nowhere").headers["x-request-id"]


@pytest.fixture
def document(served: Served) -> dict[str, Any]:
    answer = served.request("GET", "/openapi.json")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    body: dict[str, Any] = answer.json()
    return body


def test_the_openapi_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"] == "3.1.0"
    validate(document)  # raises on any violation of the OpenAPI 3.1 schema


def _validator(document: dict[str, Any], model: str) -> OAS31Validator:
    schema = {"$ref": f"#/components/schemas/{model}", "components": document["components"]}
    return OAS31Validator(schema)


def test_the_document_has_a_valid_example_answer_for_every_result_code(
    document: dict[str, Any],
) -> None:
    answer = document["paths"][ENDPOINT_PATH]["post"]["responses"]["200"]
    examples = answer["content"]["application/json; charset=UTF-8"]["examples"]
    assert set(examples) == {code.value for code in ResultCode}
    validator = _validator(document, "SyncResult")
    for code, example in examples.items():
        validator.validate(example["value"])
        assert example["value"].get("errorCode", "SUCCESS") == code
        assert example["value"]["success"] is (code == "SUCCESS")


def test_the_document_describes_the_signature_scheme_and_every_signed_header(
    document: dict[str, Any],
) -> None:
    operation = document["paths"][ENDPOINT_PATH]["post"]
    assert {p["name"] for p in operation["parameters"]} == {
        "Client-Id",
        "Request-Time",
        "Signature",
    }
    assert set(operation["responses"]["200"]["headers"]) >= {
        "client-id",
        "response-time",
        "signature",
    }
    assert "<METHOD> <PATH>\\n<Client-Id>.<Request-Time>.<raw body>" in operation["description"]
    assert "<client-id>.<response-time>.<response body>" in operation["description"]
    assert document["components"]["securitySchemes"]["alipaySignature"]["name"] == "Signature"


def test_the_documents_request_example_is_valid_and_parses_as_the_endpoint_parses_it(
    document: dict[str, Any],
) -> None:
    body = document["paths"][ENDPOINT_PATH]["post"]["requestBody"]["content"]["application/json"]
    _validator(document, "SyncRequest").validate(body["example"])
    for form in (sync_body(), sync_body(tradeAmt='{"currency":"HKD","value":"1"}')):
        _validator(document, "SyncRequest").validate(form)
    parsed = parse_sync_body(json.dumps(body["example"]).encode())
    assert parsed.trade_amt is not None and parsed.trade_amt.value == "24800"
