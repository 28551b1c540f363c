"""Output for people (docs/cli.md): tables that never cut a value, one zone with its offset.

On a terminal, tables fit its width by wrapping cells (an id is folded, never cut) and colour
is used; written to a file or a pipe, nothing is wrapped or coloured, so every row stays one
line per value. Progress bars are drawn only on a terminal.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import UTC, datetime, tzinfo
from typing import TextIO

from rich.console import Console
from rich.table import Table

UNBOUNDED_WIDTH = 100_000


def is_terminal(stream: TextIO | None = None) -> bool:
    """Whether the stream (stdout by default) is an interactive terminal."""
    stream = sys.stdout if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def console(*, stderr: bool = False) -> Console:
    """A rich console: terminal width and colour on a terminal; no wrapping and no colour off it."""
    stream = sys.stderr if stderr else sys.stdout
    if is_terminal(stream):
        return Console(file=stream)
    return Console(
        file=stream, width=UNBOUNDED_WIDTH, color_system=None, soft_wrap=True, highlight=False
    )


def show_time(moment: datetime | None, zone: tzinfo) -> str:
    """A moment in the platform's zone with its offset, to the second; "-" for none."""
    if moment is None:
        return "-"
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(zone).isoformat(sep=" ", timespec="seconds")


def print_table(
    title: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    zone: tzinfo | None = None,
    empty: str | None = None,
) -> None:
    """A table on stdout; an empty listing says so (``empty``) instead of an empty frame."""
    out = console()
    if not rows:
        out.print(empty or f"No {title.lower()}.", markup=False)
        return
    heading = title if zone is None else f"{title} (times in {zone})"
    table = Table(title=heading, title_justify="left")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*row)
    out.print(table)
