"""Structured logs: JSON lines (or text), the request id on every line written for a request,
uvicorn's loggers formatted like ours."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from asap_sync.logs import REQUEST_ID, configure_logging, logging_config
from tests.kit import sync_body
from tests.observability.conftest import Served

OURS = ("", "uvicorn", "uvicorn.error", "uvicorn.access", "alembic", "asap_sync")


@pytest.fixture(autouse=True)
def restored_logging() -> Iterator[None]:
    """Each test configures logging as a server would; put the test run's back afterwards."""
    saved = {
        name: (logger.handlers[:], logger.level, logger.propagate, logger.disabled)
        for name in OURS
        for logger in [logging.getLogger(name or None)]
    }
    yield
    for name, (handlers, level, propagate, disabled) in saved.items():
        logger = logging.getLogger(name or None)
        logger.handlers[:] = handlers
        logger.setLevel(level)
        logger.propagate, logger.disabled = propagate, disabled


def json_lines(err: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in err.splitlines() if line.strip()]


def test_a_json_line_has_time_level_logger_message_extras_and_the_exception(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("json", "info")
    log = logging.getLogger("asap_sync.test")
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("failed %s", "here", extra={"client_id": "C1"})
    (line,) = json_lines(capsys.readouterr().err)
    assert line["level"] == "ERROR" and line["logger"] == "asap_sync.test"
    assert line["message"] == "failed here" and line["client_id"] == "C1"
    assert "ValueError: boom" in line["exception"]
    assert line["time"].endswith("+00:00")
    assert "request_id" not in line  # written outside any request


def test_every_line_inside_a_request_carries_its_id_in_json_and_in_text(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for log_format in ("json", "text"):
        configure_logging(log_format, "info")
        token = REQUEST_ID.set("req-42")
        try:
            logging.getLogger("asap_sync.sync").info("answered")
            logging.getLogger("uvicorn.error").warning("from uvicorn")
        finally:
            REQUEST_ID.reset(token)
        err = capsys.readouterr().err
        if log_format == "json":
            lines = json_lines(err)
            assert [(x["logger"], x["request_id"]) for x in lines] == [
                ("asap_sync.sync", "req-42"),
                ("uvicorn.error", "req-42"),
            ]
        else:
            assert err.count("[req-42]") == 2, err


def test_the_lines_of_a_served_sync_carry_the_request_id_of_its_answer(
    served: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("json", "info")
    capsys.readouterr()
    answer = served.sync(sync_body(merchantId="nobody"))
    lines = [x for x in json_lines(capsys.readouterr().err) if x["logger"].startswith("asap_sync")]
    # The endpoint's line is written in the request thread: the id followed it there.
    assert any("code=INVALID_MERCHANT" in x["message"] for x in lines)
    assert {x.get("request_id") for x in lines} == {answer.headers["x-request-id"]}


def test_uvicorns_loggers_get_our_handler_and_its_access_log_only_at_debug() -> None:
    quiet = logging_config("json", "info")["loggers"]
    assert quiet["uvicorn"]["handlers"] == ["default"]
    assert quiet["uvicorn.access"]["handlers"] == []
    loud = logging_config("text", "debug")["loggers"]
    assert loud["uvicorn.access"]["handlers"] == ["default"]
    assert logging_config("text", "info", access_log=True)["loggers"]["uvicorn.access"][
        "handlers"
    ] == ["default"]


def test_an_unknown_log_format_is_refused() -> None:
    with pytest.raises(ValueError, match="xml"):
        logging_config("xml", "info")
