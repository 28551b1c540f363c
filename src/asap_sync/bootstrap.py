"""The one place that wires adapters: settings → engine → stores → endpoint → ASGI app."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, text

from asap_sync.config import Settings
from asap_sync.http.app import AsgiApp
from asap_sync.http.endpoint import SyncEndpoint
from asap_sync.http.metrics import process_observer
from asap_sync.http.probes import readiness_checks
from asap_sync.http.rate_limit import RateLimiter
from asap_sync.http.tracing import tracing_observer
from asap_sync.logs import configure_logging
from asap_sync.service.accept_sync import AcceptPolicy
from asap_sync.service.observer import Observer, combine
from asap_sync.storage.batch import BatchWriter
from asap_sync.storage.engine import make_engine
from asap_sync.storage.gateway import GatewayStore
from asap_sync.storage.migrate import check_up_to_date


def system_clock() -> datetime:
    """The real clock, timezone-aware."""
    return datetime.now(UTC)


def engine_for(settings: Settings) -> Engine:
    """The database engine the settings name."""
    if not settings.database_url:
        # Owner-only: the database holds the platform's private signing key.
        settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
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
    gateway = GatewayStore(engine)
    endpoint = SyncEndpoint(
        gateway=gateway,
        writer=BatchWriter(engine, observer=observer),
        clock=clock,
        policy=AcceptPolicy(
            late_limit_months=settings.late_limit_months, zone=ZoneInfo(settings.timezone)
        ),
        time_window=timedelta(seconds=settings.time_window_seconds),
        body_limit=settings.body_limit_bytes,
        rate_limiter=(
            RateLimiter(settings.rate_limit_per_second)
            if settings.rate_limit_per_second > 0
            else None
        ),
        observer=observer,
    )

    def healthy() -> bool:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True

    return AsgiApp(
        endpoint,
        body_limit=settings.body_limit_bytes,
        threads=settings.threads,
        health=healthy,
        readiness=readiness_checks(engine, gateway),
    )


def create_app() -> AsgiApp:
    """Factory for the ASGI server's worker processes: settings from ``ASAP_SYNC_*``."""
    settings = Settings.from_env()
    configure_logging(settings.log_format, settings.log_level)
    return build_app(settings)
