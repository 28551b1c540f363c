"""Operator commands: init, migrate, serve, platform-key; registers the other operator groups."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
import uvicorn

from asap_sync.bootstrap import engine_for, system_clock
from asap_sync.cli import activity, clients, contracts, operator_accounts
from asap_sync.cli.admin_listener import admin_listener
from asap_sync.cli.operator_session import (
    DatabaseUrlOption,
    DataDirOption,
    JsonOption,
    describe_database,
    embedded_database,
    open_operator,
    operator_errors,
    print_json,
    record,
    require_migrated,
    settings_for,
)
from asap_sync.config import Settings
from asap_sync.service.admin import (
    PlatformKeyRecord,
    initialise,
    newest_platform_key,
    rotate_platform_key,
)
from asap_sync.storage.admin import SqlAdminSessions
from asap_sync.storage.migrate import current_revision, head_revision, upgrade

platform_key_app = typer.Typer(
    help="Show or rotate the platform's signing key (merchants verify answers with it).",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Add every operator command and group to the root ``asap-sync`` app."""
    app.command("init")(init)
    app.command("migrate")(migrate)
    app.command("serve")(serve)
    app.add_typer(clients.clients_app, name="clients")
    app.add_typer(clients.keys_app, name="keys")
    app.add_typer(clients.merchants_app, name="merchants")
    app.add_typer(contracts.app, name="contracts")
    app.add_typer(platform_key_app, name="platform-key")
    app.add_typer(activity.rejections_app, name="rejections")
    app.add_typer(activity.transactions_app, name="transactions")
    app.add_typer(operator_accounts.operators_app, name="operators")
    app.add_typer(operator_accounts.activity_log_app, name="activity")


def print_platform_key(key: PlatformKeyRecord) -> None:
    """The platform public key a merchant needs, in both formats (plain echo: no wrapping)."""
    typer.echo(f"Platform public key, version {key.key_version} (give it to merchants):")
    typer.echo("")
    typer.echo("one-line base64:")
    typer.echo(key.public_key_b64)
    typer.echo("")
    typer.echo("PEM:")
    typer.echo(key.public_key_pem.rstrip("\n"))


def _initialise(settings: Settings) -> None:
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
    typer.echo(f"Database {describe_database(settings)} is at schema {head_revision()}.")
    state = "created" if done.key_created else "already present"
    typer.echo(f"Platform signing key version {done.platform_key.key_version}: {state}.")
    typer.echo("")
    print_platform_key(done.platform_key)


def init(data_dir: DataDirOption = None, database_url: DatabaseUrlOption = None) -> None:
    """Create the data directory, migrate the database and create the platform signing key.

    Safe to run again: an existing key is kept and printed.
    """
    settings = settings_for(data_dir, database_url)
    with operator_errors():
        _initialise(settings)


def migrate(data_dir: DataDirOption = None, database_url: DatabaseUrlOption = None) -> None:
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
    if before == head:
        typer.echo(f"Database {describe_database(settings)} is already at schema {head}.")
    else:
        typer.echo(f"Database {describe_database(settings)} migrated from {before} to {head}.")


def serve(
    host: Annotated[
        str | None, typer.Option(envvar="ASAP_SYNC_HOST", help="Address to listen on.")
    ] = None,
    port: Annotated[
        int | None, typer.Option(envvar="ASAP_SYNC_PORT", help="Port to listen on.")
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(envvar="ASAP_SYNC_WORKERS", help="Worker processes.", min=1),
    ] = None,
    log_level: Annotated[
        str | None,
        typer.Option(envvar="ASAP_SYNC_LOG_LEVEL", help="debug, info, warning or error."),
    ] = None,
    admin_host: Annotated[
        str | None,
        typer.Option(envvar="ASAP_SYNC_ADMIN_HOST", help="Address of the console and /metrics."),
    ] = None,
    admin_port: Annotated[
        int | None,
        typer.Option(envvar="ASAP_SYNC_ADMIN_PORT", help="Port of the console and /metrics."),
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
) -> None:
    """Run the externalInfoSync server (POST /amsin/commercial/certificate/accept).

    The operator console (/console/) and /metrics are served on a separate admin listener,
    127.0.0.1:8081 by default. On the embedded SQLite default, a data directory without a
    database is initialised first. A database that is not migrated, or a PostgreSQL database
    not initialised, is refused.
    """
    settings = settings_for(
        data_dir,
        database_url,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        admin_host=admin_host,
        admin_port=admin_port,
        admin_enabled=admin,
    )
    settings = settings.with_changes(data_dir=settings.data_dir.resolve())
    with operator_errors():
        path = embedded_database(settings)
        if path is not None and not path.exists():
            typer.echo(f"No database in {settings.data_dir}: initialising it.")
            _initialise(settings)
            typer.echo("")
        _check_ready(settings)
    # Workers are separate processes: they rebuild these settings from the environment.
    os.environ.update(settings.to_env())
    typer.echo(
        f"Serving on http://{settings.host}:{settings.port} with {settings.workers} worker(s), "
        f"database {describe_database(settings)}."
    )
    with operator_errors(), admin_listener(settings) as console_url:
        if console_url is not None:
            typer.echo(f"Operator console on {console_url} (metrics on /metrics).")
        uvicorn.run(
            "asap_sync.bootstrap:create_app",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=settings.workers,
            log_level=settings.log_level.lower(),
            access_log=settings.log_level.lower() == "debug",
        )


def _check_ready(settings: Settings) -> None:
    engine = engine_for(settings)
    try:
        require_migrated(engine, settings)
        newest_platform_key(SqlAdminSessions(engine))
    finally:
        engine.dispose()


@platform_key_app.command("show")
def show_platform_key(
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
    as_json: JsonOption = False,
    out: Annotated[
        Path | None, typer.Option("--out", help="Also write the public key PEM to this file.")
    ] = None,
) -> None:
    """Print the platform public key the server signs with, as base64 and PEM."""
    with open_operator(data_dir, database_url) as op:
        key = newest_platform_key(op.sessions)
    if out is not None:
        out.write_text(key.public_key_pem)
    if as_json:
        print_json([record(key, public_key_pem=key.public_key_pem)])
    else:
        print_platform_key(key)


@platform_key_app.command("rotate")
def rotate(data_dir: DataDirOption = None, database_url: DatabaseUrlOption = None) -> None:
    """Create a new platform key version and retire the older ones.

    Running servers sign with the new key from their next answer: give it to every merchant.
    """
    with open_operator(data_dir, database_url) as op:
        key = rotate_platform_key(op.sessions, now=system_clock())
        operator_accounts.log_change(
            op.engine, "platform-key.rotate", f"version {key.key_version}", after={"active": True}
        )
    typer.echo(f"Platform key rotated: version {key.key_version} is active, older ones retired.")
    typer.echo("")
    print_platform_key(key)
