"""The observer port: what the ingestion pipeline reports about itself while it works.

The pipeline calls these few methods at the points that matter to an operator; adapters turn
them into Prometheus metrics or OpenTelemetry spans (:mod:`asap_sync.http.metrics`,
:mod:`asap_sync.http.tracing`). The core never imports either library, and without an adapter
every call is a no-op.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext
from typing import Protocol

# The steps :meth:`Observer.step` times. A span each when tracing; "sign" and "verify" also feed
# the signature-time histogram, "batch_write" the batch-duration histogram.
STEPS = ("request", "verify", "batch_write", "sign")


class Observer(Protocol):
    """Receives what happens while syncs are answered. Every method must be cheap and must
    never raise: observing may not change an answer."""

    def step(self, name: str, **attributes: str | int) -> AbstractContextManager[None]:
        """Time one step of answering (one of :data:`STEPS`)."""
        ...

    def answered(self, *, api: str, code: str, seconds: float) -> None:
        """A signed answer left: its API, result code (``SUCCESS`` or the errorCode) and
        the time from the request's arrival."""
        ...

    def rejection_recorded(self, *, api: str, code: str) -> None:
        """A rejection was written to the operator's rejection log."""
        ...

    def batch_written(self, *, size: int) -> None:
        """A batch of ``size`` syncs was committed in one transaction."""
        ...

    def redecided(self, *, reason: str) -> None:
        """A sync is decided again: the directory or a write precondition moved under it."""
        ...

    def database_error(self, *, operation: str) -> None:
        """A database operation failed (the sync is answered SYSTEM_ERROR or logged)."""
        ...

    def connections_changed(self, delta: int) -> None:
        """An HTTP connection opened (+1) or closed (-1)."""
        ...


class NullObserver:
    """Observes nothing: the default wherever no adapter is wired."""

    def step(self, name: str, **attributes: str | int) -> AbstractContextManager[None]:
        return nullcontext()

    def answered(self, *, api: str, code: str, seconds: float) -> None:
        return None

    def rejection_recorded(self, *, api: str, code: str) -> None:
        return None

    def batch_written(self, *, size: int) -> None:
        return None

    def redecided(self, *, reason: str) -> None:
        return None

    def database_error(self, *, operation: str) -> None:
        return None

    def connections_changed(self, delta: int) -> None:
        return None


NULL_OBSERVER: Observer = NullObserver()


class Observers:
    """Several observers as one: every call goes to each, in order."""

    def __init__(self, observers: Sequence[Observer]) -> None:
        self._all = tuple(observers)

    @contextmanager
    def _steps(self, name: str, attributes: dict[str, str | int]) -> Iterator[None]:
        with ExitStack() as stack:
            for observer in self._all:
                stack.enter_context(observer.step(name, **attributes))
            yield

    def step(self, name: str, **attributes: str | int) -> AbstractContextManager[None]:
        return self._steps(name, attributes)

    def answered(self, *, api: str, code: str, seconds: float) -> None:
        for observer in self._all:
            observer.answered(api=api, code=code, seconds=seconds)

    def rejection_recorded(self, *, api: str, code: str) -> None:
        for observer in self._all:
            observer.rejection_recorded(api=api, code=code)

    def batch_written(self, *, size: int) -> None:
        for observer in self._all:
            observer.batch_written(size=size)

    def redecided(self, *, reason: str) -> None:
        for observer in self._all:
            observer.redecided(reason=reason)

    def database_error(self, *, operation: str) -> None:
        for observer in self._all:
            observer.database_error(operation=operation)

    def connections_changed(self, delta: int) -> None:
        for observer in self._all:
            observer.connections_changed(delta)


def combine(observers: Sequence[Observer]) -> Observer:
    """One observer for these: the no-op one for none, the observer itself for one."""
    if not observers:
        return NULL_OBSERVER
    if len(observers) == 1:
        return observers[0]
    return Observers(observers)
