"""OpenTelemetry tracing, an optional extra (``pip install 'asap-sync[otel]'``).

A span per request (``asap_sync.request``) with children for the signature check
(``asap_sync.verify``), the batch write (``asap_sync.batch_write``, in the thread that wrote the
batch) and the answer's signature (``asap_sync.sign``). ``ASAP_SYNC_TRACING`` turns it on:
``otlp`` exports over OTLP/HTTP as the standard ``OTEL_EXPORTER_OTLP_*`` variables say,
``console`` prints spans to stderr; ``off`` (the default) adds nothing to the hot path.

The caller's trace is joined, as W3C Trace Context says: a valid ``traceparent`` header (and
its ``tracestate``) makes the request span a child of the caller's span, in the caller's trace.
A missing or malformed one starts a new trace. See :func:`join_caller_trace`.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import TYPE_CHECKING, Any

from asap_sync.service.observer import Observer

if TYPE_CHECKING:
    from opentelemetry.trace import Tracer

TRACER_NAME = "asap_sync"
EXTRA_HINT = "tracing needs the otel extra: pip install 'asap-sync[otel]'"
TRACEPARENT = "traceparent"

# Set when this process makes spans (a TracingObserver exists): until then, joining a caller's
# trace is not even a header lookup.
_joining = False


class Tracing(enum.StrEnum):
    """Where spans go."""

    OFF = "off"
    OTLP = "otlp"
    CONSOLE = "console"


def otel_available() -> bool:
    """True when the OpenTelemetry API and SDK are installed."""
    try:
        import opentelemetry.sdk.trace  # noqa: F401
    except ImportError:
        return False
    return True


class TracingObserver:
    """Implements :class:`asap_sync.service.observer.Observer` with OpenTelemetry spans."""

    def __init__(self, tracer: Tracer) -> None:
        global _joining
        self._tracer = tracer
        _joining = True

    def step(self, name: str, **attributes: str | int) -> AbstractContextManager[Any]:
        return self._tracer.start_as_current_span(
            f"{TRACER_NAME}.{name}",
            attributes={f"asap_sync.{key}": value for key, value in attributes.items()},
        )

    def answered(self, *, api: str, code: str, seconds: float) -> None:
        self._current().set_attribute("asap_sync.code", code)

    def rejection_recorded(self, *, api: str, code: str) -> None:
        return None

    def batch_written(self, *, size: int) -> None:
        return None

    def redecided(self, *, reason: str) -> None:
        self._current().add_event("redecided", {"reason": reason})

    def database_error(self, *, operation: str) -> None:
        self._current().add_event("database_error", {"operation": operation})

    def connections_changed(self, delta: int) -> None:
        return None

    @staticmethod
    def _current() -> Any:
        from opentelemetry import trace

        return trace.get_current_span()


def tracing_observer(mode: str, *, service_name: str = "asap-sync") -> Observer | None:
    """The observer for ``ASAP_SYNC_TRACING=mode`` (None when off); installs this process's
    tracer provider. Raises RuntimeError when tracing is on but the extra is missing."""
    chosen = Tracing(mode)
    if chosen is Tracing.OFF:
        return None
    if not otel_available():
        raise RuntimeError(f"ASAP_SYNC_TRACING={mode}: {EXTRA_HINT}")
    from opentelemetry import trace
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

    exporter: SpanExporter
    if chosen is Tracing.CONSOLE:
        exporter = ConsoleSpanExporter()
    else:
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        except ImportError as exc:
            raise RuntimeError(f"ASAP_SYNC_TRACING={mode}: {EXTRA_HINT}") from exc
        exporter = OTLPSpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return TracingObserver(provider.get_tracer(TRACER_NAME))


def join_caller_trace(headers: Mapping[str, str]) -> AbstractContextManager[Any]:
    """Inside, spans started are children of the caller's span (W3C ``traceparent`` and
    ``tracestate``, lower-case header names); nothing when tracing is off or no header came."""
    if not _joining or TRACEPARENT not in headers:
        return nullcontext()
    return _attached(headers)


@contextmanager
def _attached(headers: Mapping[str, str]) -> Iterator[None]:
    from opentelemetry import context
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    token = context.attach(TraceContextTextMapPropagator().extract(carrier=dict(headers)))
    try:
        yield
    finally:
        context.detach(token)
