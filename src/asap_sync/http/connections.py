"""The HTTP protocol the public listener runs: uvicorn's own, reporting connections opened and
closed to the process's observer (the ``asap_sync_open_connections`` gauge)."""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from asap_sync.http.metrics import process_observer


class ConnectionCounting:
    """Mixin for a uvicorn HTTP protocol class (put it first among the bases): each connection
    is reported to this process's observer when it opens and when it closes."""

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        process_observer().connections_changed(1)

    def connection_lost(self, exc: Exception | None) -> None:
        process_observer().connections_changed(-1)
        super().connection_lost(exc)  # type: ignore[misc]


class CountedHttpProtocol(ConnectionCounting, HttpToolsProtocol):
    """uvicorn's httptools protocol (what ``uvicorn[standard]`` runs), counting connections."""


# Named by import string in ``uvicorn.run(http=...)``: worker processes import it by name.
PROTOCOL = f"{__name__}:{CountedHttpProtocol.__name__}"

__all__ = ["PROTOCOL", "ConnectionCounting", "CountedHttpProtocol"]
