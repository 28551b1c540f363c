"""The click that typer runs on: typer (0.29 and later) vendors its own copy as ``typer._click``.

Exceptions and the current context must come from that copy, not from a separately installed
click, or they are never caught or found.
"""

from __future__ import annotations

from typer._click.core import ParameterSource
from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError
from typer._click.globals import get_current_context

__all__ = [
    "ClickException",
    "NoArgsIsHelpError",
    "ParameterSource",
    "UsageError",
    "get_current_context",
]
