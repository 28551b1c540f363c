"""Limits at the socket, before any application code runs (SPEC §2.1).

uvicorn's httptools protocol, with what it lacks against a hostile peer: a cap on the request
head (431), a deadline for the head of every request (slowloris; 408) and for its body (408),
both counted from the first moment and never extended by a trickle of bytes. Each connection
opened and closed is reported to the process's observer (the open-connections gauge). The cap
is uvicorn's own ``limit_concurrency`` (503 past it); the body size limit is the
endpoint's, answered signed as soon as the declared or streamed size passes it (``app.py``).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from dataclasses import dataclass
from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from asap_sync.http.metrics import process_observer

log = logging.getLogger("asap_sync.http.socket")


@dataclass(frozen=True, kw_only=True, slots=True)
class SocketLimits:
    """What one connection may cost a worker."""

    max_head_bytes: int = 16 * 1024  # request line and headers together
    head_timeout: float = 10.0  # from connection (or the previous answer) to the end of the head
    body_timeout: float = 30.0  # from the end of the head to the end of the body
    max_connections: int = 1024  # per worker; past it requests get a plain 503


class _HeadTooLarge(Exception):
    pass


def _plain(status: int, reason: str, message: str) -> bytes:
    body = message.encode()
    return (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: text/plain; charset=utf-8\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    ).encode() + body


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """One connection, with the head and body deadlines and the head size cap enforced."""

    def __init__(self, *args: Any, limits: SocketLimits, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limits = limits
        self._reading_head = True
        self._head_bytes = 0
        self._deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        process_observer().connections_changed(1)
        self._arm(self.limits.head_timeout, "request head")

    def connection_lost(self, exc: Exception | None) -> None:
        process_observer().connections_changed(-1)
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._unset_keepalive_if_required()
        if self._reading_head:
            self._head_bytes += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError as exc:
            if isinstance(exc.__context__, _HeadTooLarge):
                self._refuse_head()
                return
            self._refuse(400, "Bad Request", "Invalid HTTP request received.")
            return
        except httptools.HttpParserError:
            self._refuse(400, "Bad Request", "Invalid HTTP request received.")
            return
        except httptools.HttpParserUpgrade:
            self._refuse(400, "Bad Request", "Protocol upgrades are not supported.")
            return
        if self._reading_head and self._head_bytes > self.limits.max_head_bytes:
            self._refuse_head()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._reading_head = True

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        if len(self.url) > self.limits.max_head_bytes:
            raise _HeadTooLarge

    def on_headers_complete(self) -> None:
        size = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)
        if size > self.limits.max_head_bytes:
            raise _HeadTooLarge
        self._reading_head, self._head_bytes = False, 0
        self._arm(self.limits.body_timeout, "request body")
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._reading_head = True
            self._arm(self.limits.head_timeout, "request head")

    def _arm(self, seconds: float, what: str) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._expired, what)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self, what: str) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        idle = self._reading_head and self._head_bytes == 0
        if idle or (self.cycle is not None and self.cycle.response_started):
            self.transport.close()  # nothing asked, or an answer is under way: just hang up
            return
        self._refuse(408, "Request Timeout", f"The {what} was not received in time.")

    def _refuse_head(self) -> None:
        limit = self.limits.max_head_bytes
        self._refuse(
            431, "Request Header Fields Too Large", f"The request head is over {limit} bytes."
        )

    def _refuse(self, status: int, reason: str, message: str) -> None:
        if self.transport.is_closing():
            return
        # debug: a flood of refusals must not become a flood of log lines
        log.debug("refused at the socket: %s %s (client %s)", status, reason, self.client)
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.disconnected = True  # the application gets http.disconnect, not a body
            self.cycle.message_event.set()
        self.transport.write(_plain(status, reason, message))
        self.transport.close()
        self._disarm()


def guarded_protocol(limits: SocketLimits) -> Any:
    """The protocol class uvicorn builds each connection with (``http=`` of its config)."""
    return functools.partial(GuardedHttpToolsProtocol, limits=limits)
