"""The one place that wires adapters: settings → engine → stores → endpoint → ASGI app."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, text
from starlette.applications import Starlette

from asap_sync.config import Settings
from asap_sync.console.app import create_console_app
from asap_sync.http.app import AsgiApp
from asap_sync.http.endpoint import ExternalInfoSync
from asap_sync.http.metrics import metrics_app, process_observer
from asap_sync.http.pipeline import SignedApis
from asap_sync.http.probes import readiness_checks
from asap_sync.http.rate_limit import RateLimiter
from asap_sync.http.refusals import RefusalLimits, Refusals
from asap_sync.http.socket_limits import SocketLimits, guarded_protocol
from asap_sync.http.tracing import tracing_observer
from asap_sync.logs import configure_logging, logging_config
from asap_sync.service.decide import AcceptPolicy
from asap_sync.service.directory import Directory, PlatformKey
from asap_sync.service.ingest import InFlight, Ingestor
from asap_sync.service.key_use import KeyUse
from asap_sync.service.observer import Observer, combine
from asap_sync.storage.admin import SqlAdminSessions
from asap_sync.storage.directory import SqlDirectoryReader, SqlKeyUse, SqlRejectionLog
from asap_sync.storage.engine import make_engine
from asap_sync.storage.file_modes import secure_data_dir
from asap_sync.storage.key_custody import PlatformKeys, load_platform_keys
from asap_sync.storage.ledger import SqlLedger
from asap_sync.storage.migrate import check_up_to_date
from asap_sync.storage.operators import SqlOperatorSessions
from asap_sync.wire.messages import ENDPOINT_PATH


def system_clock() -> datetime:
    """The real clock, timezone-aware."""
    return datetime.now(UTC)


def engine_for(settings: Settings) -> Engine:
    """The database engine the settings name."""
    if not settings.database_url:
        # Owner-only: the database holds the platform's private signing key.
        secure_data_dir(settings.data_dir)
    return make_engine(settings.effective_database_url, pool_size=settings.threads)


def standard_observer(settings: Settings) -> Observer:
    """This process's metrics, and spans when tracing is on."""
    tracing = tracing_observer(settings.tracing)
    return combine([process_observer()] if tracing is None else [process_observer(), tracing])


def build_app(
    settings: Settings,
    *,
    engine: Engine | None = None,
    clock: Callable[[], datetime] = system_clock,
    observer: Observer | None = None,
) -> AsgiApp:
    """The ASGI application for these settings; refuses a database that is not migrated.

    ``observer``: what the pipeline reports to (default: :func:`standard_observer`)."""
    engine = engine or engine_for(settings)
    check_up_to_date(engine)
    observer = observer or standard_observer(settings)
    directory = Directory(SqlDirectoryReader(engine))
    rejections = SqlRejectionLog(engine)
    in_flight = InFlight()
    ingestor = Ingestor(
        ledger=SqlLedger(engine),
        directory=directory,
        policy=AcceptPolicy(
            late_limit_months=settings.late_limit_months, zone=ZoneInfo(settings.timezone)
        ),
        observer=observer,
        in_flight=in_flight,
        batch_wait=settings.batch_wait_ms / 1000,
    )
    apis = SignedApis(
        routes={ENDPOINT_PATH: ExternalInfoSync(ingestor)},
        directory=directory,
        signing_key=HeldSigningKey(platform_keys_for(settings, directory), directory),
        rejections=rejections,
        clock=clock,
        time_window=timedelta(seconds=settings.time_window_seconds),
        body_limit=settings.body_limit_bytes,
        refusals=Refusals(
            RefusalLimits(
                per_source=settings.failures_per_source,
                per_client_id=settings.failures_per_client_id,
            ),
            rejections.record_rejections,
        ),
        rate_limiter=(
            RateLimiter(settings.rate_limit_per_second)
            if settings.rate_limit_per_second > 0
            else None
        ),
        observer=observer,
        threads=settings.threads,
        key_use=KeyUse(SqlKeyUse(engine).record_key_use),
        in_flight=in_flight,
    )

    def healthy() -> bool:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True

    return AsgiApp(
        apis,
        body_limit=settings.body_limit_bytes,
        health=healthy,
        readiness=readiness_checks(engine, directory),
        tarpit=settings.throttled_delay_seconds,
    )


def build_admin_app(
    settings: Settings,
    *,
    engine: Engine | None = None,
    clock: Callable[[], datetime] = system_clock,
    session_key: bytes | None = None,
) -> Starlette:
    """The admin listener's app: the operator console and ``/metrics``."""
    engine = engine or engine_for(settings)
    check_up_to_date(engine)
    return create_console_app(
        engine=engine,
        admin=SqlAdminSessions(engine),
        operators=SqlOperatorSessions(engine),
        clock=clock,
        zone=ZoneInfo(settings.timezone),
        session_key=session_key,
        metrics=metrics_app(),
    )


def platform_keys_for(settings: Settings, directory: Directory) -> PlatformKeys:
    """The platform signing key, loaded now and held by the worker (SPEC §2.1)."""
    return load_platform_keys(
        settings.platform_key,
        version=settings.platform_key_version,
        database_key=directory.platform_key,
        environ=os.environ,
    )


class HeldSigningKey:
    """Implements :class:`asap_sync.http.pipeline.SigningKeyProvider`: the key loaded at the
    worker's start, following the directory's newest key when that is its source (a rotation
    takes effect with the directory version that made it), and held while the database is
    down."""

    def __init__(self, keys: PlatformKeys, directory: Directory) -> None:
        self._keys, self._directory = keys, directory

    def current(self) -> PlatformKey | None:
        try:
            from_database = self._directory.platform_key()
        except Exception:
            from_database = None  # the database is down: the held key signs
        return self.choose(from_database)

    def choose(self, from_directory: PlatformKey | None) -> PlatformKey | None:
        return self._keys.choose(from_directory)

    def held(self) -> PlatformKey:
        return self._keys.held


# How often the GIL may pass between a worker's event loop and its writer thread (seconds), by
# database (docs/performance.md, "The GIL switch interval").
WORKER_SWITCH_INTERVAL = {"sqlite": 0.001, "postgresql": 0.002}


def switch_interval(settings: Settings) -> float:
    """The GIL switch interval of a server worker: as set, else by the settings' database."""
    if settings.switch_interval_ms > 0:
        return settings.switch_interval_ms / 1000
    # As make_engine tells them apart: SQLite by its scheme, anything else is PostgreSQL.
    sqlite = settings.effective_database_url.startswith("sqlite")
    return WORKER_SWITCH_INTERVAL["sqlite" if sqlite else "postgresql"]


def create_app() -> AsgiApp:
    """Factory for the ASGI server's worker processes: settings from ``ASAP_SYNC_*``."""
    settings = Settings.from_env()
    configure_logging(settings.log_format, settings.log_level)
    # The event loop and the writer thread share the GIL. At CPython's default 5 ms the writer,
    # back from each database wait, waited up to 5 ms for a busy loop to let go of it: batches
    # took longer than their I/O and the cores idled. Shorter is not better either: each switch
    # costs both threads, and on PostgreSQL, whose writer waits on the network with the GIL
    # released, 2 ms served more than 1 (on SQLite, 1 ms more than 2).
    sys.setswitchinterval(switch_interval(settings))
    return build_app(settings)


def server_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's options for these settings: the socket limits of SPEC §2.1 included."""
    limits = SocketLimits(
        max_head_bytes=settings.max_head_bytes,
        head_timeout=settings.head_timeout_seconds,
        body_timeout=settings.body_timeout_seconds,
        max_connections=settings.max_connections,
    )
    return {
        "http": guarded_protocol(limits),
        "limit_concurrency": limits.max_connections,
        "timeout_keep_alive": 5,
        "host": settings.host,
        "port": settings.port,
        "workers": settings.workers,
        "log_config": logging_config(settings.log_format, settings.log_level),
        "log_level": settings.log_level.lower(),
        "access_log": settings.log_level.lower() == "debug",
    }
