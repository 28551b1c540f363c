"""Prometheus metrics: the observer adapter that records them and the ASGI app that serves them.

With several worker processes, each worker writes its values to files in one directory per
server run (prometheus_client's multiprocess mode, selected by ``PROMETHEUS_MULTIPROC_DIR``,
which ``asap-sync serve`` prepares before the workers start); whichever process serves
``/metrics`` adds up every worker's files. Without that variable the metrics live in the
process's memory and ``/metrics`` shows that process alone.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import time
from collections.abc import Callable, MutableMapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, make_asgi_app, values
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

from asap_sync.service.observer import Observer

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
PREFIX = "asap_sync"

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
SIGNATURE_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1)
BATCH_SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)

AsgiApp = Callable[..., Any]


class _Timer:
    """Times a ``with`` block into a histogram (cheaper than a generator context manager)."""

    __slots__ = ("_histogram", "_started")

    def __init__(self, histogram: Histogram) -> None:
        self._histogram = histogram
        self._started = 0.0

    def __enter__(self) -> None:
        self._started = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        self._histogram.observe(time.perf_counter() - self._started)


_UNTIMED: AbstractContextManager[None] = nullcontext()  # a step with no histogram of its own


class PrometheusObserver:
    """Implements :class:`asap_sync.service.observer.Observer` with Prometheus metrics."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        """``registry``: where the metrics are registered (a fresh one by default, so several
        observers may live in one process, as in tests)."""
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            f"{PREFIX}_requests",
            "Signed answers by API and result code (SUCCESS or the errorCode).",
            ["api", "code"],
            registry=r,
        )
        self.latency = Histogram(
            f"{PREFIX}_request_duration_seconds",
            "Time from a request's arrival to its signed answer.",
            ["api"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.rejections = Counter(
            f"{PREFIX}_rejections",
            "Rejections written to the rejection log, by API and errorCode.",
            ["api", "code"],
            registry=r,
        )
        self.batch_size = Histogram(
            f"{PREFIX}_batch_size",
            "Syncs committed together in one database transaction.",
            buckets=BATCH_SIZE_BUCKETS,
            registry=r,
        )
        self.batch_duration = Histogram(
            f"{PREFIX}_batch_write_duration_seconds",
            "Time to write and commit one batch.",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.redecisions = Counter(
            f"{PREFIX}_redecisions",
            "Syncs decided again because the directory or a write precondition moved.",
            ["reason"],
            registry=r,
        )
        self.database_errors = Counter(
            f"{PREFIX}_database_errors",
            "Failed database operations, by operation.",
            ["operation"],
            registry=r,
        )
        self.signature_time = Histogram(
            f"{PREFIX}_signature_duration_seconds",
            "Time to verify a request's signature or sign an answer.",
            ["operation"],
            buckets=SIGNATURE_BUCKETS,
            registry=r,
        )
        self.open_connections = Gauge(
            f"{PREFIX}_open_connections",
            "HTTP connections open on the public listener (all workers).",
            multiprocess_mode="livesum",
            registry=r,
        )
        self._timed = {
            "sign": self.signature_time.labels(operation="sign"),
            "verify": self.signature_time.labels(operation="verify"),
            "batch_write": self.batch_duration,
        }
        # Labelled children by label values: looking them up costs more than counting.
        self._answers: dict[tuple[str, str], tuple[Counter, Histogram]] = {}

    def step(self, name: str, **attributes: str | int) -> AbstractContextManager[None]:
        histogram = self._timed.get(name)
        return _UNTIMED if histogram is None else _Timer(histogram)

    def answered(self, *, api: str, code: str, seconds: float) -> None:
        children = self._answers.get((api, code))
        if children is None:
            children = (self.requests.labels(api=api, code=code), self.latency.labels(api=api))
            self._answers[(api, code)] = children
        children[0].inc()
        children[1].observe(seconds)

    def rejection_recorded(self, *, api: str, code: str) -> None:
        self.rejections.labels(api=api, code=code).inc()

    def batch_written(self, *, size: int) -> None:
        self.batch_size.observe(size)

    def redecided(self, *, reason: str) -> None:
        self.redecisions.labels(reason=reason).inc()

    def database_error(self, *, operation: str) -> None:
        self.database_errors.labels(operation=operation).inc()

    def connections_changed(self, delta: int) -> None:
        self.open_connections.inc(delta)


@cache
def process_observer() -> Observer:
    """This process's Prometheus observer, made on first use (after the worker started, so
    after ``PROMETHEUS_MULTIPROC_DIR`` is in its environment)."""
    observer = PrometheusObserver()
    directory = os.environ.get(MULTIPROCESS_ENV)
    if directory:
        # A worker that exits cleanly takes its open-connections gauge with it.
        atexit.register(mark_process_dead, os.getpid(), directory)
    return observer


def metrics_app(directory: str | Path | None = None) -> AsgiApp:
    """An ASGI app answering every GET with the metrics in the Prometheus text format.

    ``directory``: the multiprocess directory to add up (default: ``PROMETHEUS_MULTIPROC_DIR``);
    without one, the metrics of this process."""
    path = directory if directory is not None else os.environ.get(MULTIPROCESS_ENV)
    if path:
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(path))  # type: ignore[no-untyped-call]
    else:
        observer = process_observer()
        assert isinstance(observer, PrometheusObserver)
        registry = observer.registry
    app: AsgiApp = make_asgi_app(registry)
    return app


@dataclass(frozen=True, kw_only=True, slots=True)
class MetricsDirectory:
    """The directory one server run's workers write their metrics to."""

    path: Path
    owned: bool  # made for this run: removed when it ends
    previous_store: Any  # this process's value store before the run

    def close(self) -> None:
        """The run ended: put this process's value store back; remove the directory if the
        run made it."""
        values.ValueClass = self.previous_store
        if self.owned:
            shutil.rmtree(self.path, ignore_errors=True)


def prepare_metrics_directory(environ: MutableMapping[str, str]) -> MetricsDirectory:
    """Set up the per-run multiprocess directory before the workers start.

    An operator-chosen ``PROMETHEUS_MULTIPROC_DIR`` is emptied (values of an earlier run would be
    added to this one's); otherwise a private temporary directory is made and put in
    ``environ`` for the workers to inherit."""
    chosen = environ.get(MULTIPROCESS_ENV)
    if chosen:
        path = Path(chosen)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):
            stale.unlink()
    else:
        path = Path(tempfile.mkdtemp(prefix="asap-sync-metrics-"))
        environ[MULTIPROCESS_ENV] = str(path)
    # prometheus_client picks its value store when first imported, which in this process was
    # before the variable was set; a single worker runs here, so pick again.
    previous = values.ValueClass
    values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]
    return MetricsDirectory(path=path, owned=not chosen, previous_store=previous)
