"""Logging for server processes: one configuration for our loggers and uvicorn's, as JSON lines
or text, each line carrying the id of the request it was written for.

The request id lives in a context variable set by the HTTP layer when a request arrives; it
follows the request into the thread that answers it, so every line written on its behalf (ours,
uvicorn's, a library's) carries it.
"""

from __future__ import annotations

import enum
import json
import logging
import logging.config
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

REQUEST_ID: ContextVar[str | None] = ContextVar("asap_sync_request_id", default=None)

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_STANDARD = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys()
    | {"message", "asctime", "request_id", "color_message", "taskName"}
)


class LogFormat(enum.StrEnum):
    """How server processes write their logs."""

    TEXT = "text"
    JSON = "json"


class RequestIdFilter(logging.Filter):
    """Puts the current request's id (or ``-``) on every record as ``request_id``."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get() or "-"
        return True


class TextFormatter(logging.Formatter):
    """:data:`TEXT_FORMAT` with the time's text made once a second, not once a line (a server
    writes a line per request, and ``time.strftime`` is most of a line's formatting)."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)
        self._second = -1
        self._stamp = ""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        second = int(record.created)
        if second != self._second:
            self._second, self._stamp = second, super().formatTime(record, datefmt)[:-4]
        return f"{self._stamp},{int(record.msecs):03d}"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id, extras, exception."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or REQUEST_ID.get()
        if request_id and request_id != "-":
            line["request_id"] = request_id
        for key, value in vars(record).items():
            if key not in _STANDARD:
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, default=str, ensure_ascii=False)


def logging_config(
    log_format: str, level: str, *, access_log: bool | None = None
) -> dict[str, Any]:
    """A :func:`logging.config.dictConfig` for the root logger and uvicorn's loggers; also
    given to uvicorn as its ``log_config``. uvicorn's access log (a line per request) is on
    at the debug level unless ``access_log`` says otherwise."""
    chosen = LogFormat(log_format)
    formatter: dict[str, Any] = (
        {"()": f"{__name__}.JsonFormatter"}
        if chosen is LogFormat.JSON
        else {"()": f"{__name__}.TextFormatter"}
    )
    handler = {
        "class": "logging.StreamHandler",
        "stream": "ext://sys.stderr",
        "formatter": "default",
        "filters": ["request_id"],
    }
    uvicorn = {"handlers": ["default"], "level": level.upper(), "propagate": False}
    if access_log is None:
        access_log = level.lower() == "debug"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": f"{__name__}.RequestIdFilter"}},
        "formatters": {"default": formatter},
        "handlers": {"default": handler},
        "root": {"handlers": ["default"], "level": level.upper()},
        "loggers": {
            "uvicorn": uvicorn,
            "uvicorn.error": {"level": level.upper()},
            "uvicorn.access": uvicorn if access_log else {"handlers": [], "propagate": False},
            # Its migration context says two INFO lines on every schema check (each /readyz).
            "alembic": {"level": "WARNING"},
        },
    }


def configure_logging(log_format: str, level: str, *, access_log: bool | None = None) -> None:
    """Configure this process's logging (replaces whatever was configured before)."""
    # Neither format shows the thread, the process or the caller's file and line: a record need
    # not look them up (the logging HOWTO's "Optimization": ``_srcfile = None`` skips the walk
    # up the stack that finds the caller of every log call).
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    logging._srcfile = None
    logging.config.dictConfig(logging_config(log_format, level, access_log=access_log))
