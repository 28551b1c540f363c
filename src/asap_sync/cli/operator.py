"""Operator commands: init, migrate, serve, platform-key; registers the other operator groups."""

from __future__ import annotations

import errno
import os
import socket
from pathlib import Path
from typing import Annotated, Any

import typer
import uvicorn

from asap_sync.bootstrap import engine_for, platform_keys_for, server_options, system_clock
from asap_sync.cli import activity, approvals, clients, contracts, health, operator_accounts
from asap_sync.cli.admin_listener import admin_listener
from asap_sync.cli.conventions import Exit, JsonOption, fail, new_app, print_json
from asap_sync.cli.operator_session import (
    DatabaseUrlOption,
    DataDirOption,
    describe_database,
    embedded_database,
    open_operator,
    operator_errors,
    require_migrated,
    settings_for,
)
from asap_sync.config import Settings
from asap_sync.http.metrics import prepare_metrics_directory
from asap_sync.logs import LogFormat
from asap_sync.service.admin import (
    PlatformKeyRecord,
    initialise,
    newest_platform_key,
    rotate_platform_key,
)
from asap_sync.service.directory import Directory
from asap_sync.storage.admin import SqlAdminSessions
from asap_sync.storage.directory import SqlDirectoryReader
from asap_sync.storage.migrate import current_revision, head_revision, upgrade

platform_key_app = new_app(
    "Show or rotate the platform's signing key (merchants verify answers with it)."
)
DEFAULTS = Settings()


def register(app: typer.Typer) -> None:
    """Add every operator command and group to the root ``asap-sync`` app."""
    app.command("init")(init)
    app.command("migrate")(migrate)
    app.command("serve")(serve)
    app.command("health")(health.health)
    app.add_typer(clients.clients_app, name="clients")
    app.add_typer(clients.keys_app, name="keys")
    app.add_typer(clients.merchants_app, name="merchants")
    app.add_typer(contracts.app, name="contracts")
    app.add_typer(platform_key_app, name="platform-key")
    app.add_typer(activity.rejections_app, name="rejections")
    app.add_typer(activity.transactions_app, name="transactions")
    app.add_typer(operator_accounts.operators_app, name="operators")
    app.add_typer(operator_accounts.activity_log_app, name="activity")
    app.add_typer(approvals.approvals_app, name="approvals")


def platform_key_fields(key: PlatformKeyRecord) -> dict[str, Any]:
    """The platform public key for JSON output (no private material)."""
    return {
        "keyVersion": key.key_version,
        "status": key.status,
        "createdAt": key.created_at,
        "publicKeyBase64": key.public_key_b64,
        "publicKeyPem": key.public_key_pem,
    }


def print_platform_key(key: PlatformKeyRecord) -> None:
    """The platform public key a merchant needs, in both formats (plain echo: no wrapping)."""
    typer.echo(f"Platform public key, version {key.key_version} (give it to merchants):")
    typer.echo("")
    typer.echo("one-line base64:")
    typer.echo(key.public_key_b64)
    typer.echo("")
    typer.echo("PEM:")
    typer.echo(key.public_key_pem.rstrip("\n"))


def _initialise(settings: Settings) -> tuple[PlatformKeyRecord, bool]:
    path = embedded_database(settings)
    if path is not None:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    engine = engine_for(settings)
    try:
        done = initialise(
            SqlAdminSessions(engine), migrate=lambda: upgrade(engine), now=system_clock()
        )
    finally:
        engine.dispose()
    return done.platform_key, done.key_created


def _print_initialised(settings: Settings, key: PlatformKeyRecord, created: bool) -> None:
    typer.echo(f"Database {describe_database(settings)} is at schema {head_revision()}.")
    state = "created" if created else "already present"
    typer.echo(f"Platform signing key version {key.key_version}: {state}.")
    typer.echo("")
    print_platform_key(key)


def init(
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create the data directory, migrate the database and create the platform signing key.

    Safe to run again: an existing key is kept and printed.
    """
    settings = settings_for(data_dir, database_url)
    with operator_errors():
        key, created = _initialise(settings)
    if as_json:
        print_json(
            {
                "database": describe_database(settings),
                "schema": head_revision(),
                "keyCreated": created,
                "platformKey": platform_key_fields(key),
            }
        )
    else:
        _print_initialised(settings, key, created)


def migrate(
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """Apply the schema migrations this version needs (run it after every upgrade)."""
    settings = settings_for(data_dir, database_url)
    with operator_errors():
        path = embedded_database(settings)
        if path is not None:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        engine = engine_for(settings)
        try:
            before = current_revision(engine)
            upgrade(engine)
        finally:
            engine.dispose()
    head = head_revision()
    if as_json:
        print_json({"database": describe_database(settings), "from": before, "to": head})
    elif before == head:
        typer.echo(f"Database {describe_database(settings)} is already at schema {head}.")
    elif before is None:
        typer.echo(f"Database {describe_database(settings)} created at schema {head}.")
    else:
        typer.echo(f"Database {describe_database(settings)} migrated from {before} to {head}.")


def serve(
    host: Annotated[
        str | None,
        typer.Option(
            envvar="ASAP_SYNC_HOST",
            help="Address to listen on.",
            show_default=DEFAULTS.host,
        ),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(
            envvar="ASAP_SYNC_PORT", help="Port to listen on.", show_default=str(DEFAULTS.port)
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            envvar="ASAP_SYNC_WORKERS",
            help="Worker processes.",
            min=1,
            show_default=str(DEFAULTS.workers),
        ),
    ] = None,
    log_level: Annotated[
        str | None,
        typer.Option(
            envvar="ASAP_SYNC_LOG_LEVEL",
            help="debug, info, warning or error.",
            show_default=DEFAULTS.log_level,
        ),
    ] = None,
    log_format: Annotated[
        LogFormat | None,
        typer.Option(
            envvar="ASAP_SYNC_LOG_FORMAT",
            help="text, or json: one JSON object per line, with the request id on each.",
            show_default=DEFAULTS.log_format,
        ),
    ] = None,
    admin_host: Annotated[
        str | None,
        typer.Option(
            envvar="ASAP_SYNC_ADMIN_HOST",
            help="Address of the console and /metrics.",
            show_default=DEFAULTS.admin_host,
        ),
    ] = None,
    admin_port: Annotated[
        int | None,
        typer.Option(
            envvar="ASAP_SYNC_ADMIN_PORT",
            help="Port of the console and /metrics.",
            show_default=str(DEFAULTS.admin_port),
        ),
    ] = None,
    admin: Annotated[
        bool | None,
        typer.Option(
            "--admin/--no-admin",
            envvar="ASAP_SYNC_ADMIN_ENABLED",
            help="Serve the console and /metrics on the admin listener (default: on).",
            show_default=False,
        ),
    ] = None,
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
    max_head_bytes: Annotated[
        int | None,
        typer.Option(
            envvar="ASAP_SYNC_MAX_HEAD_BYTES",
            show_default=str(DEFAULTS.max_head_bytes),
            help="Largest request head (request line and headers) in bytes; larger: 431.",
            min=1024,
        ),
    ] = None,
    head_timeout: Annotated[
        float | None,
        typer.Option(
            envvar="ASAP_SYNC_HEAD_TIMEOUT_SECONDS",
            show_default=str(DEFAULTS.head_timeout_seconds),
            help="Seconds a client has to send a request head; then 408 and the socket closes.",
            min=0.1,
        ),
    ] = None,
    body_timeout: Annotated[
        float | None,
        typer.Option(
            envvar="ASAP_SYNC_BODY_TIMEOUT_SECONDS",
            show_default=str(DEFAULTS.body_timeout_seconds),
            help="Seconds a client has to send a body once its head is in; then 408.",
            min=0.1,
        ),
    ] = None,
    max_connections: Annotated[
        int | None,
        typer.Option(
            envvar="ASAP_SYNC_MAX_CONNECTIONS",
            show_default=str(DEFAULTS.max_connections),
            help="Connections per worker; requests past it get 503.",
            min=1,
        ),
    ] = None,
) -> None:
    """Run the externalInfoSync server (POST /amsin/commercial/certificate/accept).

    The operator console (/console/) and /metrics are served on a separate admin listener,
    127.0.0.1:8081 by default (--admin-host, --admin-port, --no-admin).
    On the embedded SQLite default, a data directory without a database is initialised first.
    A database that is not migrated, or a PostgreSQL database not initialised, is refused.
    Ready when GET /healthz answers 200 (`asap-sync health --wait 60` waits for that).
    """
    settings = settings_for(
        data_dir,
        database_url,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        log_format=log_format.value if log_format else None,
        admin_host=admin_host,
        admin_port=admin_port,
        admin_enabled=admin,
    )
    settings = settings.with_changes(
        data_dir=settings.data_dir.resolve(),
        max_head_bytes=max_head_bytes,
        head_timeout_seconds=head_timeout,
        body_timeout_seconds=body_timeout,
        max_connections=max_connections,
    )
    require_free_port(settings.host, settings.port)
    with operator_errors():
        path = embedded_database(settings)
        if path is not None and not path.exists():
            typer.echo(f"No database in {settings.data_dir}: initialising it.")
            _print_initialised(settings, *_initialise(settings))
            typer.echo("")
        _check_ready(settings)
    # Workers are separate processes: they rebuild these settings from the environment.
    os.environ.update(settings.to_env())
    metrics = prepare_metrics_directory(os.environ)  # before any worker starts
    workers_text = "1 worker" if settings.workers == 1 else f"{settings.workers} workers"
    typer.echo(
        f"Serving on http://{settings.host}:{settings.port} with {workers_text}, "
        f"database {describe_database(settings)}."
    )
    chosen = settings.admin_port != DEFAULTS.admin_port  # then a taken port is an error
    try:
        with operator_errors(), admin_listener(settings, required=chosen) as console_url:
            if console_url is not None:
                typer.echo(f"Operator console on {console_url} (metrics on /metrics).")
            uvicorn.run("asap_sync.bootstrap:create_app", factory=True, **server_options(settings))
    finally:
        metrics.close()


def require_free_port(host: str, port: int) -> None:
    """Refuse, with a hint, a port another process already listens on."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                fail(
                    f"port {port} on {host} is in use (another asap-sync serve?): stop that "
                    "process, or choose another port with --port or ASAP_SYNC_PORT"
                )
            fail(f"cannot listen on {host}:{port}: {exc.strerror}", Exit.USAGE)


def _check_ready(settings: Settings) -> None:
    engine = engine_for(settings)
    try:
        require_migrated(engine, settings)
        newest_platform_key(SqlAdminSessions(engine))
        # the key the workers will load
        platform_keys_for(settings, Directory(SqlDirectoryReader(engine)))
    finally:
        engine.dispose()


@platform_key_app.command("show")
def show_platform_key(
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
    as_json: JsonOption = False,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Also write the public key PEM to this file.",
            dir_okay=False,
            show_default="not written",
        ),
    ] = None,
) -> None:
    """Print the platform public key the server signs with, as base64 and PEM."""
    with open_operator(data_dir, database_url) as op:
        key = newest_platform_key(op.sessions)
    if out is not None:
        try:
            out.write_text(key.public_key_pem, encoding="ascii")
        except OSError as exc:
            fail(f"cannot write {out}: {exc.strerror}", Exit.USAGE)
    if as_json:
        print_json(platform_key_fields(key))
    else:
        print_platform_key(key)


@platform_key_app.command("rotate")
def rotate(
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create a new platform key version and retire the older ones.

    Running servers sign with the new key from their next answer: give it to every merchant.
    """
    with open_operator(data_dir, database_url) as op:
        key = rotate_platform_key(op.sessions, now=system_clock())
    if as_json:
        print_json(platform_key_fields(key))
        return
    typer.echo(f"Platform key rotated: version {key.key_version} is active, older ones retired.")
    typer.echo("")
    print_platform_key(key)
