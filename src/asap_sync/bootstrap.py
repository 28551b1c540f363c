"""The one place that wires adapters: settings → engine → stores → endpoint → ASGI app."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, text

from asap_sync.config import Settings
from asap_sync.http.app import AsgiApp
from asap_sync.http.endpoint import ExternalInfoSync
from asap_sync.http.pipeline import SignedApis
from asap_sync.http.rate_limit import RateLimiter
from asap_sync.service.decide import AcceptPolicy
from asap_sync.service.directory import Directory, PlatformKey
from asap_sync.service.ingest import Ingestor
from asap_sync.storage.directory import SqlDirectoryReader, SqlRejectionLog
from asap_sync.storage.engine import make_engine
from asap_sync.storage.ledger import SqlLedger
from asap_sync.storage.migrate import check_up_to_date
from asap_sync.wire.messages import ENDPOINT_PATH


def system_clock() -> datetime:
    """The real clock, timezone-aware."""
    return datetime.now(UTC)


def engine_for(settings: Settings) -> Engine:
    """The database engine the settings name."""
    if not settings.database_url:
        # Owner-only: the database holds the platform's private signing key.
        settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    return make_engine(settings.effective_database_url, pool_size=settings.threads)


class DirectorySigningKey:
    """The platform's signing key as the directory holds it (newest active; a rotation is
    picked up with the directory version that made it)."""

    def __init__(self, directory: Directory) -> None:
        self._directory = directory

    def current(self) -> PlatformKey | None:
        key = self._directory.platform_key()
        if key is None:
            logging.getLogger("asap_sync").error("no active platform key: run `asap-sync init`")
        return key


def build_app(
    settings: Settings,
    *,
    engine: Engine | None = None,
    clock: Callable[[], datetime] = system_clock,
) -> AsgiApp:
    """The ASGI application for these settings; refuses a database that is not migrated."""
    engine = engine or engine_for(settings)
    check_up_to_date(engine)
    directory = Directory(SqlDirectoryReader(engine))
    ingestor = Ingestor(
        ledger=SqlLedger(engine),
        directory=directory,
        policy=AcceptPolicy(
            late_limit_months=settings.late_limit_months, zone=ZoneInfo(settings.timezone)
        ),
    )
    signing_key = DirectorySigningKey(directory)
    signing_key.current()  # loaded at start: a database without one fails at once, in the log
    apis = SignedApis(
        routes={ENDPOINT_PATH: ExternalInfoSync(ingestor)},
        directory=directory,
        signing_key=signing_key,
        rejections=SqlRejectionLog(engine),
        clock=clock,
        time_window=timedelta(seconds=settings.time_window_seconds),
        body_limit=settings.body_limit_bytes,
        rate_limiter=(
            RateLimiter(settings.rate_limit_per_second)
            if settings.rate_limit_per_second > 0
            else None
        ),
    )

    def healthy() -> bool:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True

    return AsgiApp(
        apis, body_limit=settings.body_limit_bytes, threads=settings.threads, health=healthy
    )


def create_app() -> AsgiApp:
    """Factory for the ASGI server's worker processes: settings from ``ASAP_SYNC_*``."""
    settings = Settings.from_env()
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    return build_app(settings)
