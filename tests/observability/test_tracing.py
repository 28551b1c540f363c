"""OpenTelemetry spans around a sync: request, verification, batch write, signing."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from asap_sync.http import tracing
from asap_sync.http.tracing import TracingObserver, tracing_observer
from tests.kit import register, sync_body
from tests.observability.conftest import Served

if not tracing.otel_available():
    pytest.skip(
        "OpenTelemetry is not installed: pip install 'asap-sync[otel]' (the dev extra has it)",
        allow_module_level=True,
    )

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)


@pytest.fixture
def traced(engine: Engine) -> tuple[Served, InMemorySpanExporter]:
    register(engine)
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return Served(engine, TracingObserver(provider.get_tracer("test"))), exporter


def by_name(spans: tuple[ReadableSpan, ...]) -> dict[str, ReadableSpan]:
    return {span.name: span for span in spans}


def test_an_accepted_sync_is_one_request_span_with_verify_batch_write_and_sign_inside(
    traced: tuple[Served, InMemorySpanExporter],
) -> None:
    served, exporter = traced
    assert served.sync(sync_body()).json()["success"]
    spans = by_name(exporter.get_finished_spans())
    assert set(spans) == {
        "asap_sync.request",
        "asap_sync.verify",
        "asap_sync.batch_write",
        "asap_sync.sign",
    }
    request = spans["asap_sync.request"]
    assert request.parent is None
    assert request.attributes is not None
    assert request.attributes["asap_sync.api"] == "externalInfoSync"
    assert request.attributes["asap_sync.code"] == "SUCCESS"
    for child in ("asap_sync.verify", "asap_sync.batch_write", "asap_sync.sign"):
        parent = spans[child].parent
        assert parent is not None and parent.span_id == request.context.span_id, child
    batch = spans["asap_sync.batch_write"].attributes
    assert batch is not None and batch["asap_sync.size"] == 1


def test_a_rejection_before_the_signature_check_has_no_verify_or_batch_span(
    traced: tuple[Served, InMemorySpanExporter],
) -> None:
    served, exporter = traced
    served.request("GET", "/amsin/commercial/certificate/accept")
    spans = by_name(exporter.get_finished_spans())
    assert set(spans) == {"asap_sync.request", "asap_sync.sign"}
    attributes = spans["asap_sync.request"].attributes
    assert attributes is not None and attributes["asap_sync.code"] == "METHOD_NOT_SUPPORTED"


def test_tracing_off_adds_no_observer() -> None:
    assert tracing_observer("off") is None


def test_tracing_on_without_the_extra_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(tracing, "otel_available", lambda: False)
    with pytest.raises(RuntimeError, match=r"pip install 'asap-sync\[otel\]'"):
        tracing_observer("otlp")


def test_an_unknown_tracing_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="zipkin"):
        tracing_observer("zipkin")


TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"


def test_a_caller_traceparent_makes_the_request_span_its_child_in_its_trace(
    traced: tuple[Served, InMemorySpanExporter],
) -> None:
    served, exporter = traced
    headers = {
        "traceparent": f"00-{TRACE_ID}-{CALLER_SPAN}-01",
        "tracestate": "vendor=opaque",
    }
    assert served.sync(sync_body(), headers=headers).json()["success"]
    spans = exporter.get_finished_spans()
    assert {format(span.context.trace_id, "032x") for span in spans} == {TRACE_ID}
    request = by_name(spans)["asap_sync.request"]
    assert request.parent is not None and request.parent.is_remote
    assert format(request.parent.span_id, "016x") == CALLER_SPAN
    assert request.context.trace_state.get("vendor") == "opaque"
    verify = by_name(spans)["asap_sync.verify"]
    assert verify.parent is not None and verify.parent.span_id == request.context.span_id


@pytest.mark.parametrize(
    "traceparent",
    [
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  # an all-zero trace id
        f"00-{TRACE_ID}-0000000000000000-01",  # an all-zero parent id
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  # version ff is invalid
        "not a traceparent",
    ],
)
def test_a_malformed_traceparent_starts_a_new_trace(
    traced: tuple[Served, InMemorySpanExporter], traceparent: str
) -> None:
    served, exporter = traced
    assert served.sync(sync_body(), headers={"traceparent": traceparent}).json()["success"]
    request = by_name(exporter.get_finished_spans())["asap_sync.request"]
    assert request.parent is None
    assert format(request.context.trace_id, "032x") != TRACE_ID
