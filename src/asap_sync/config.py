"""Settings, built once from flags and ``ASAP_SYNC_*`` environment variables, passed down."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

ENV_PREFIX = "ASAP_SYNC_"
DATABASE_FILE = "asap-sync.sqlite3"


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Everything configurable about a server process."""

    data_dir: Path = Path("asap-data")
    database_url: str = ""  # empty: SQLite in data_dir
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 2
    time_window_seconds: int = 900
    body_limit_bytes: int = 64 * 1024
    late_limit_months: int = 6
    timezone: str = "Asia/Hong_Kong"
    rate_limit_per_second: float = 0.0  # per client per worker; 0 turns it off
    log_level: str = "info"
    log_format: str = "text"  # or "json": one JSON object per line
    tracing: str = "off"  # or "otlp", "console": OpenTelemetry spans (the otel extra)
    threads: int = 4  # per worker: the blocking steps beside the event loop (probes, rejection log)
    batch_wait_ms: float = 2.0  # group commit: how long the writer waits for syncs on their way
    switch_interval_ms: float = 0.0  # the workers' GIL switch interval; 0: by database (1 or 2)
    max_head_bytes: int = 16 * 1024  # request line and headers; past it a plain 431
    head_timeout_seconds: float = 10.0  # to receive a request head; past it a plain 408
    body_timeout_seconds: float = 30.0  # to receive a body once its head is in; a plain 408
    max_connections: int = 1024  # per worker; requests past it get a plain 503
    failures_per_source: float = 20.0  # unauthenticated failures a second per address; 0: off
    failures_per_client_id: float = 50.0  # the same per claimed Client-Id; 0: off
    throttled_delay_seconds: float = 1.0  # how long a caller past its budget waits for its answer
    platform_key: str = "database"  # or file:<path> (mode 0600) or env:<VARIABLE> (PEM)
    platform_key_version: int = 1  # the keyVersion announced for a file: or env: key
    # The admin listener (console, /metrics): loopback by default, never where merchants connect.
    admin_enabled: bool = True
    admin_host: str = "127.0.0.1"
    admin_port: int = 8081

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Defaults, then ``ASAP_SYNC_<FIELD>`` variables, then explicit overrides."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(ENV_PREFIX + f.name.upper())
            if raw is not None and raw != "":
                values[f.name] = _convert(f.type, raw, f.name)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    @property
    def effective_database_url(self) -> str:
        """The database URL; SQLite in the data directory unless one was given."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / DATABASE_FILE).resolve()}"

    def to_env(self) -> dict[str, str]:
        """The environment that rebuilds these settings in a worker process."""
        return {ENV_PREFIX + f.name.upper(): str(getattr(self, f.name)) for f in fields(self)}

    def with_changes(self, **changes: Any) -> Settings:
        """A copy with some fields changed (``None`` values are ignored)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


def _convert(kind: Any, raw: str, name: str) -> Any:
    kind = kind if isinstance(kind, str) else kind.__name__
    try:
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind == "Path":
            return Path(raw)
        if kind == "bool":
            return _boolean(raw)
    except ValueError as exc:
        raise ValueError(f"{ENV_PREFIX}{name.upper()}={raw!r} is not a valid {kind}") from exc
    return raw


def _boolean(raw: str) -> bool:
    text = raw.strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(raw)
