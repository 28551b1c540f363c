"""``/metrics`` scraped over HTTP while signed syncs flow through ``asap-sync serve`` with two
workers; its counters against the ledger; the server's JSON log lines; open connections."""

from __future__ import annotations

import itertools
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from asap_sync.storage.engine import make_engine
from asap_sync.storage.tables import rejections, transactions
from asap_sync.wire import ENDPOINT_PATH, format_response_time
from tests.e2e.conftest import REPO, free_port
from tests.kit import encode, register, signed_headers, sync_body

pytestmark = pytest.mark.e2e

API = "externalInfoSync"
SERVE = "from asap_sync.cli.main import main; main()"

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@dataclass(frozen=True)
class Running:
    base_url: str
    metrics_url: str
    log: Path


def _wait(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"exited: {log.read_text()}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within 60 s: {log.read_text()}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture
def running(database_url: str, tmp_path: Path) -> Iterator[Running]:
    """``asap-sync serve --workers 2 --log-format json``, and ``metrics_app()`` served by a
    process of its own on the same metrics directory (as the admin listener serves it)."""
    engine = make_engine(database_url)
    register(engine)
    engine.dispose()
    port, metrics_port = free_port(), free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO / "src"),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
        "ASAP_SYNC_LOG_LEVEL": "info",
    }
    log = tmp_path / "serve.log"
    serve = [sys.executable, "-c", SERVE, "serve", "--port", str(port), "--workers", "2"]
    serve += ["--log-format", "json", "--database-url", database_url]
    serve += ["--data-dir", str(tmp_path / "data")]
    metrics = [sys.executable, "-m", "uvicorn", "asap_sync.http.metrics:metrics_app"]
    metrics += ["--factory", "--port", str(metrics_port), "--log-level", "warning"]
    with log.open("wb") as out:
        server = subprocess.Popen(serve, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait(f"http://127.0.0.1:{port}/readyz", server, log)
        metrics_log = tmp_path / "metrics.log"
        with metrics_log.open("wb") as out:
            scraper = subprocess.Popen(metrics, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            _wait(f"http://127.0.0.1:{metrics_port}/metrics", scraper, metrics_log)
            yield Running(
                f"http://127.0.0.1:{port}", f"http://127.0.0.1:{metrics_port}/metrics", log
            )
        finally:
            _stop(scraper)
    finally:
        _stop(server)


def scrape(url: str) -> Samples:
    text = httpx.get(url, timeout=10).text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def recent() -> str:
    return (datetime.now(UTC) - timedelta(days=1)).isoformat(timespec="seconds")


def send(base_url: str, raw: bytes, **sign: object) -> str:
    now = format_response_time(datetime.now(UTC))
    headers = signed_headers(raw, request_time=now, **sign)  # type: ignore[arg-type]
    answer = httpx.post(base_url + ENDPOINT_PATH, content=raw, headers=headers, timeout=60)
    assert answer.status_code == 200 and answer.headers["signature"]
    return str(answer.json().get("errorCode", "SUCCESS"))


def traffic() -> list[tuple[bytes, dict[str, object]]]:
    """Accepted pays, and rejections of three kinds."""
    pays = [
        encode(sync_body(requestId=f"r{n}", outTransId=f"T{n}", transDate=recent()))
        for n in range(40)
    ]
    strangers = [
        encode(sync_body(requestId=f"m{n}", merchantId="nobody", transDate=recent()))
        for n in range(6)
    ]
    dollars = [
        encode(
            sync_body(
                requestId=f"d{n}", tradeAmt={"currency": "USD", "value": "1"}, transDate=recent()
            )
        )
        for n in range(4)
    ]
    forged = [encode(sync_body(requestId=f"f{n}", transDate=recent())) for n in range(5)]
    return [(raw, {}) for raw in pays + strangers + dollars] + [
        (raw, {"key_version": 9}) for raw in forged
    ]


def counters(samples: Samples) -> dict[str, float]:
    return {
        labels[1][1]: v
        for (name, labels), v in samples.items()
        if name == "asap_sync_requests_total"
    }


def test_counters_scraped_while_syncs_flow_only_grow_and_end_equal_to_the_ledger(
    running: Running, database_url: str
) -> None:
    scrapes: list[Samples] = []
    flowing = threading.Event()
    flowing.set()

    def scrape_while_flowing() -> None:
        while flowing.is_set():
            scrapes.append(scrape(running.metrics_url))
            time.sleep(0.05)

    scraper = threading.Thread(target=scrape_while_flowing)
    scraper.start()
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            codes = list(
                pool.map(lambda item: send(running.base_url, item[0], **item[1]), traffic())
            )
    finally:
        flowing.clear()
        scraper.join()
    assert codes.count("SUCCESS") == 40
    assert len(scrapes) >= 2
    for before, after in itertools.pairwise(scrapes):
        for code, count in counters(before).items():
            assert counters(after).get(code, 0) >= count

    final = scrape(running.metrics_url)
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            accepted = conn.execute(select(func.count()).select_from(transactions)).scalar_one()
            by_code = dict(
                conn.execute(
                    select(rejections.c.code, func.count()).group_by(rejections.c.code)
                ).all()
            )
    finally:
        engine.dispose()
    assert value(final, "asap_sync_requests_total", api=API, code="SUCCESS") == accepted == 40
    assert by_code == {"INVALID_MERCHANT": 6, "CURRENCY_NOT_SUPPORT": 4, "KEY_NOT_FOUND": 5}
    for code, count in by_code.items():
        assert value(final, "asap_sync_requests_total", api=API, code=code) == count
        assert value(final, "asap_sync_rejections_total", api=API, code=code) == count
    assert value(final, "asap_sync_request_duration_seconds_count", api=API) == len(codes)
    signed = value(final, "asap_sync_signature_duration_seconds_count", operation="sign")
    assert signed == len(codes)
    assert value(final, "asap_sync_batch_size_sum") >= accepted

    # Every line the server wrote once serving is JSON; each answer's line has a request id.
    _, _, served = running.log.read_text().partition("Serving on")
    lines = [json.loads(line) for line in served.splitlines()[1:] if line.strip()]
    answers = [line for line in lines if line["logger"] == "asap_sync.sync"]
    assert len(answers) == len(codes)
    assert all(len(line["request_id"]) == 32 for line in answers)
    assert len({line["request_id"] for line in answers}) == len(codes)
    assert any(line["logger"].startswith("uvicorn") for line in lines)


def eventually(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 20
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def test_open_connections_are_counted_across_the_workers_until_they_close(
    running: Running,
) -> None:
    host, port = running.base_url.removeprefix("http://").split(":")

    def open_connections() -> float:
        return value(scrape(running.metrics_url), "asap_sync_open_connections")

    eventually(lambda: open_connections() == 0, "connections left open before the test")
    held = [socket.create_connection((host, int(port))) for _ in range(5)]
    try:
        eventually(lambda: open_connections() == 5, "five open connections not counted")
    finally:
        for sock in held:
            sock.close()
    eventually(lambda: open_connections() == 0, "closed connections still counted")
