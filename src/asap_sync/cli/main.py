"""The one entry point, ``asap-sync``: every command group is registered here."""

from __future__ import annotations

import typer

from asap_sync.cli import merchant, operator, settlement

app = typer.Typer(
    name="asap-sync",
    help="Commission-data platform for the Alipay+ externalInfoSync API.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(merchant.app, name="merchant")
operator.register(app)
settlement.register(app)


def main() -> None:
    """Run the command line."""
    app()
