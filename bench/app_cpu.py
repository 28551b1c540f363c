"""CPU per request of the application alone: the product's ASGI app and the lean baseline's,
driven in one process with no HTTP server and no network, on the same pre-signed requests.

Where :mod:`bench.ingest` measures whole servers under load (and the machine's noise with them),
this isolates what each application's own code costs per request: the ASGI call from the parsed
request to the answer's bytes, database work included (SQLite in-process; on PostgreSQL the
client side only). 32 requests are in flight at once, as 32 connections would keep them.

    .venv/bin/python bench/app_cpu.py --db sqlite --requests 5000
    .venv/bin/python bench/app_cpu.py --db postgres --requests 5000 --profile 25

Prints CPU ms per request (process time over the timed requests, median of ``--rounds``) for
each variant and the product's ratio to the baseline; ``--profile N`` prints the product's N
costliest functions (cProfile, cumulative) from one extra run.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from asap_sync.http.metrics import process_observer
from asap_sync.wire import generate_private_key
from bench.compare import VARIANTS, _prepare
from bench.harness import fresh_database
from bench.workload import Keys, presign

POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
IN_FLIGHT = 32


def _split(raw: bytes) -> tuple[dict[str, Any], bytes]:
    """A pre-signed raw HTTP request as an ASGI scope and its body."""
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    method, target, _ = lines[0].split(b" ")
    headers = []
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers.append((name.strip().lower(), value.strip()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method.decode(),
        "path": target.decode(),
        "raw_path": target,
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8080),
        "scheme": "http",
    }
    return scope, body


async def _drive(app: Any, requests: list[bytes]) -> int:
    """Every request through the app, ``IN_FLIGHT`` at a time; the count of 200 answers."""
    queue = iter(requests)
    ok = 0

    async def one(raw: bytes) -> None:
        nonlocal ok
        scope, body = _split(raw)
        sent = False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                await asyncio.sleep(3600)
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            nonlocal ok
            if message["type"] == "http.response.start" and message["status"] == 200:
                ok += 1

        await app(scope, receive, send)

    async def lane() -> None:
        for raw in queue:
            await one(raw)

    await asyncio.gather(*(lane() for _ in range(IN_FLIGHT)))
    return ok


@asynccontextmanager
async def _lifespan(app: Any) -> AsyncIterator[None]:
    """The app's lifespan: started before the requests, shut down after them."""
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    task = asyncio.create_task(app({"type": "lifespan"}, inbox.get, outbox.put))
    await inbox.put({"type": "lifespan.startup"})
    assert (await outbox.get())["type"] == "lifespan.startup.complete"
    try:
        yield
    finally:
        await inbox.put({"type": "lifespan.shutdown"})
        await outbox.get()
        await task


@contextmanager
def _app(name: str, url: str, workdir: Path, keys: Keys, keys_file: Path) -> Iterator[Any]:
    variant = VARIANTS[name]
    _prepare(url, variant, keys)
    os.environ.update(
        {
            "ASAP_SYNC_DATABASE_URL": url,
            "ASAP_SYNC_DATA_DIR": str(workdir),
            "ASAP_SYNC_LOG_LEVEL": "info",
            "BENCH_DATABASE_URL": url,
            "BENCH_KEYS_FILE": str(keys_file),
        }
    )
    module, _, factory = variant.factory.partition(":")
    create: Callable[[], Any] = getattr(__import__(module, fromlist=[factory]), factory)
    app = create()
    yield app
    closing = getattr(getattr(app, "apis", None), "close", None)
    if closing is not None:
        closing()


def measure(
    name: str, db: str, requests: list[bytes], warmup: list[bytes], keys: Keys, profile: bool
) -> tuple[float, pstats.Stats | None]:
    """CPU ms per timed request of one variant on a fresh database."""
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        keys_file = workdir / "keys.json"
        keys.write_baseline_file(keys_file)
        with (
            fresh_database(db, workdir, POSTGRES_URL) as url,
            _app(name, url, workdir, keys, keys_file) as app,
        ):

            async def run() -> tuple[float, pstats.Stats | None]:
                async with _lifespan(app):
                    return await timed()

            async def timed() -> tuple[float, pstats.Stats | None]:
                assert await _drive(app, warmup) == len(warmup)
                before = _batches()
                profiler = cProfile.Profile() if profile else None
                started = time.process_time()
                if profiler is not None:
                    profiler.enable()
                ok = await _drive(app, requests)
                if profiler is not None:
                    profiler.disable()
                spent = time.process_time() - started
                assert ok == len(requests), f"{name}: {ok} of {len(requests)} answered 200"
                syncs, batches = (now - then for now, then in zip(_batches(), before, strict=True))
                if batches:
                    per_batch = syncs / batches
                    print(f"  {name}: {per_batch:.1f} syncs per written batch", flush=True)
                return spent * 1000 / len(requests), (pstats.Stats(profiler) if profiler else None)

            return asyncio.run(run())


def _batches() -> tuple[float, float]:
    """The syncs written and the batches that wrote them, so far in this process (the
    product's metrics; zero for the baseline)."""
    registry = process_observer().registry  # type: ignore[attr-defined]
    total = registry.get_sample_value("asap_sync_batch_size_sum") or 0.0
    return total, registry.get_sample_value("asap_sync_batch_size_count") or 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", type=int, default=0, metavar="N")
    parser.add_argument("--only", choices=["baseline", "product"], help="one variant (profiling)")
    options = parser.parse_args()
    keys = Keys.load(generate_private_key())
    total = options.warmup + options.requests
    figures: dict[str, list[float]] = {"baseline": [], "product": []}
    for round_no in range(options.rounds):
        signed = presign(total, f"r{round_no}", keys)
        order = ["baseline", "product"] if round_no % 2 == 0 else ["product", "baseline"]
        if options.only:
            order = [options.only]
        for name in order:
            ms, _ = measure(
                name, options.db, signed[options.warmup :], signed[: options.warmup], keys, False
            )
            figures[name].append(ms)
            print(f"round {round_no + 1}: {name:8} {ms:.3f} CPU ms/request", flush=True)
    if options.only:
        return
    base, product = (statistics.median(figures[n]) for n in ("baseline", "product"))
    print(f"\n{options.db}: baseline {base:.3f}, product {product:.3f} CPU ms/request (medians)")
    print(
        f"product / baseline CPU: {product / base:.2f}; throughput ratio if CPU-bound: "
        f"{base / product:.2f}"
    )
    if options.profile:
        signed = presign(total, "profile", keys)
        _, stats = measure(
            "product", options.db, signed[options.warmup :], signed[: options.warmup], keys, True
        )
        assert stats is not None
        stats.sort_stats(os.environ.get("BENCH_SORT", "cumulative")).print_stats(options.profile)


if __name__ == "__main__":
    main()
