"""The observer port: the no-op default, fan-out, and the Prometheus adapter's metrics."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from asap_sync.http.metrics import PrometheusObserver
from asap_sync.service.observer import NULL_OBSERVER, combine


class Recorder:
    """An observer that writes down every call, for the fan-out tests."""

    def __init__(self, name: str, calls: list[str]) -> None:
        self.name, self.calls = name, calls

    @contextmanager
    def step(self, name: str, **attributes: str | int) -> Iterator[None]:
        self.calls.append(f"{self.name} enter {name} {sorted(attributes.items())}")
        yield
        self.calls.append(f"{self.name} exit {name}")

    def answered(self, *, api: str, code: str, seconds: float) -> None:
        self.calls.append(f"{self.name} answered {api} {code}")

    def rejection_recorded(self, *, api: str, code: str) -> None:
        self.calls.append(f"{self.name} rejection {code}")

    def batch_written(self, *, size: int) -> None:
        self.calls.append(f"{self.name} batch {size}")

    def redecided(self, *, reason: str) -> None:
        self.calls.append(f"{self.name} redecided {reason}")

    def database_error(self, *, operation: str) -> None:
        self.calls.append(f"{self.name} database_error {operation}")

    def connections_changed(self, delta: int) -> None:
        self.calls.append(f"{self.name} connections {delta}")


def test_the_null_observer_accepts_every_call_and_times_nothing() -> None:
    with NULL_OBSERVER.step("request", api="x"):
        NULL_OBSERVER.answered(api="x", code="SUCCESS", seconds=0.1)
    NULL_OBSERVER.batch_written(size=3)
    NULL_OBSERVER.connections_changed(1)


def test_combining_no_observer_gives_the_null_one_and_one_gives_itself() -> None:
    only = Recorder("a", [])
    assert combine([]) is NULL_OBSERVER
    assert combine([only]) is only


def test_combined_observers_each_receive_every_call_and_steps_nest_in_order() -> None:
    calls: list[str] = []
    both = combine([Recorder("a", calls), Recorder("b", calls)])
    with both.step("sign", size=2):
        both.answered(api="externalInfoSync", code="SUCCESS", seconds=0.01)
    both.rejection_recorded(api="externalInfoSync", code="INVALID_MERCHANT")
    both.batch_written(size=4)
    both.redecided(reason="directory_changed")
    both.database_error(operation="batch_write")
    both.connections_changed(-1)
    assert calls == [
        "a enter sign [('size', 2)]",
        "b enter sign [('size', 2)]",
        "a answered externalInfoSync SUCCESS",
        "b answered externalInfoSync SUCCESS",
        "b exit sign",
        "a exit sign",
        "a rejection INVALID_MERCHANT",
        "b rejection INVALID_MERCHANT",
        "a batch 4",
        "b batch 4",
        "a redecided directory_changed",
        "b redecided directory_changed",
        "a database_error batch_write",
        "b database_error batch_write",
        "a connections -1",
        "b connections -1",
    ]


def test_the_prometheus_observer_counts_answers_by_api_and_code_with_their_latency() -> None:
    observer = PrometheusObserver()
    observer.answered(api="externalInfoSync", code="SUCCESS", seconds=0.004)
    observer.answered(api="externalInfoSync", code="SUCCESS", seconds=0.2)
    observer.answered(api="externalInfoSync", code="INVALID_SIGNATURE", seconds=0.001)
    sample = observer.registry.get_sample_value
    api = {"api": "externalInfoSync"}
    assert sample("asap_sync_requests_total", {**api, "code": "SUCCESS"}) == 2
    assert sample("asap_sync_requests_total", {**api, "code": "INVALID_SIGNATURE"}) == 1
    assert sample("asap_sync_request_duration_seconds_count", api) == 3
    assert sample("asap_sync_request_duration_seconds_bucket", {**api, "le": "0.005"}) == 2


def test_the_prometheus_observer_times_signing_verification_and_batch_writes() -> None:
    observer = PrometheusObserver()
    with observer.step("sign"):
        pass
    with observer.step("verify"):
        pass
    with observer.step("batch_write", size=3):
        observer.batch_written(size=3)
    with observer.step("request"):  # a span only: no histogram of its own
        pass
    sample = observer.registry.get_sample_value
    for operation in ("sign", "verify"):
        count = sample("asap_sync_signature_duration_seconds_count", {"operation": operation})
        assert count == 1
    assert sample("asap_sync_batch_write_duration_seconds_count") == 1
    assert sample("asap_sync_batch_size_sum") == 3
    assert sample("asap_sync_batch_size_bucket", {"le": "2.0"}) == 0
    assert sample("asap_sync_batch_size_bucket", {"le": "4.0"}) == 1


def test_the_prometheus_observer_counts_rejections_redecisions_errors_and_connections() -> None:
    observer = PrometheusObserver()
    observer.rejection_recorded(api="externalInfoSync", code="INVALID_MERCHANT")
    observer.redecided(reason="directory_changed")
    observer.redecided(reason="directory_changed")
    observer.database_error(operation="rejection_log")
    observer.connections_changed(1)
    observer.connections_changed(1)
    observer.connections_changed(-1)
    sample = observer.registry.get_sample_value
    labels = {"api": "externalInfoSync", "code": "INVALID_MERCHANT"}
    assert sample("asap_sync_rejections_total", labels) == 1
    assert sample("asap_sync_redecisions_total", {"reason": "directory_changed"}) == 2
    assert sample("asap_sync_database_errors_total", {"operation": "rejection_log"}) == 1
    assert sample("asap_sync_open_connections") == 1
