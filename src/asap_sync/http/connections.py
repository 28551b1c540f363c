"""The HTTP protocol the public listener runs: uvicorn's own, reporting connections opened and
closed to the process's observer (the ``asap_sync_open_connections`` gauge)."""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.auto import AutoHTTPProtocol

from asap_sync.http.metrics import process_observer


def counted(base: type[asyncio.Protocol]) -> type[asyncio.Protocol]:
    """A subclass of the uvicorn protocol ``base`` that reports its connections."""

    def connection_made(self: Any, transport: Any) -> None:
        base.connection_made(self, transport)
        process_observer().connections_changed(1)

    def connection_lost(self: Any, exc: Exception | None) -> None:
        process_observer().connections_changed(-1)
        base.connection_lost(self, exc)

    members = {"connection_made": connection_made, "connection_lost": connection_lost}
    return type(f"Counted{base.__name__}", (base,), members)


# Named by import string in ``uvicorn.run(http=...)``: worker processes import it by name.
CountedHttpProtocol = counted(AutoHTTPProtocol)
PROTOCOL = f"{__name__}:CountedHttpProtocol"
