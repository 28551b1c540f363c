"""The one entry point, ``asap-sync``: every command group is registered here."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Annotated

import typer

from asap_sync.cli import merchant, operator, settlement
from asap_sync.cli.conventions import RootGroup
from asap_sync.cli.location import merchant_defaults

MERCHANT_GROUPS = ("merchant-side", "merchant")
RootGroup.defaults = staticmethod(lambda: merchant_defaults(MERCHANT_GROUPS))

app = typer.Typer(
    name="asap-sync",
    help="Commission-data platform for the Alipay+ externalInfoSync API.\n\n"
    "Operator commands run the platform; the merchant-side group holds what a merchant or ISV "
    "runs against it. Exit statuses and output formats: docs/cli.md.",
    cls=RootGroup,
    no_args_is_help=True,
    rich_markup_mode=None,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def package_version() -> str:
    """The installed version of asap-sync."""
    try:
        return version("asap-sync")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "unknown"


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"asap-sync {package_version()}")
        raise typer.Exit(0)


@app.callback()
def root(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", help="Print the version and exit.", callback=_print_version, is_eager=True
        ),
    ] = False,
) -> None:
    """Commission-data platform for the Alipay+ externalInfoSync API."""


operator.register(app)
settlement.register(app)
app.add_typer(merchant.app, name=MERCHANT_GROUPS[0])
app.add_typer(merchant.app, name=MERCHANT_GROUPS[1], hidden=True)  # the former name, kept working


def main() -> None:
    """Run the command line."""
    app()
