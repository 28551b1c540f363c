"""Merchant commands: key generation, send, bulk send, reconcile."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Merchant and ISV tools: keys, send, bulk send, reconcile.", no_args_is_help=True
)
