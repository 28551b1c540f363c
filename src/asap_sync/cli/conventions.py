"""The contract every ``asap-sync`` command keeps (docs/cli.md): exit statuses, errors, JSON.

A command raises :class:`CliError` (or calls :func:`fail` / :func:`bad_input`) and never prints
its own error; the root group (:class:`RootGroup`) turns every error, click's usage errors
included, into one line ``error: …`` on stderr, plus a JSON error object on stdout when
``--json`` was given, and exits with the status of :class:`Exit`. JSON output goes through
:func:`print_json`, which applies the one key convention (camelCase, as the exports and the API)
and the formats of times and amounts.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import re
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, NoReturn
from urllib.parse import urlsplit

import typer
from typer.core import TyperGroup

from asap_sync.cli import clicklib
from asap_sync.domain.money import format_e4_hkd, format_minor_hkd


class Exit(enum.IntEnum):
    """One table of exit statuses for the whole tool (docs/cli.md)."""

    OK = 0
    REFUSED = 1  # understood, but refused (by the platform, the database, the data) or findings
    USAGE = 2  # bad input or usage: nothing was done
    TRANSPORT = 3  # the platform or the database could not be reached: safe to run again
    BAD_ANSWER = 4  # the platform's answer was unsigned, badly signed or malformed
    INTERRUPTED = 130  # Ctrl-C


class CliError(Exception):
    """What a command could not do: one line for people, an exit status for scripts.

    ``result``: a command whose outcome is itself the answer (a rejected sync, audit findings)
    gives it here; with ``--json`` it is printed with the ``error`` object in one document.
    """

    def __init__(
        self, message: str, status: Exit = Exit.REFUSED, result: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.message = " ".join(message.split())
        self.status = status
        self.result = result


def fail(
    message: str, status: Exit = Exit.REFUSED, result: Mapping[str, Any] | None = None
) -> NoReturn:
    """Stop the command: ``error: <message>`` and the exit status."""
    raise CliError(message, status, result)


def bad_input(message: str) -> NoReturn:
    """Stop the command before any work: the input is wrong (exit 2)."""
    raise CliError(message, Exit.USAGE)


@contextmanager
def input_checks(*errors: type[Exception]) -> Iterator[None]:
    """Inside, the given exceptions (and ValueError) mean bad input: exit 2."""
    caught: tuple[type[Exception], ...] = (ValueError, *errors)
    try:
        yield
    except caught as exc:
        bad_input(str(exc))


JsonOption = Annotated[
    bool, typer.Option("--json", help="Print one JSON document (see docs/cli.md) instead of text.")
]


def new_app(help: str, **options: Any) -> typer.Typer:
    """A command group following the conventions: plain help, no shell-completion options."""
    return typer.Typer(
        help=help,
        no_args_is_help=True,
        rich_markup_mode=None,
        add_completion=False,
        pretty_exceptions_enable=False,
        **options,
    )


# -- JSON ---------------------------------------------------------------------------------

_SNAKE = re.compile(r"_([a-z0-9])")


def camel(name: str) -> str:
    """``key_version`` → ``keyVersion``, ``commission_e4`` → ``commissionE4``."""
    return _SNAKE.sub(lambda m: m[1].upper(), name)


def iso(moment: datetime) -> str:
    """ISO 8601 with offset; a naive time read back from SQLite is UTC."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()


class DataKeys(dict[str, Any]):
    """A mapping whose keys are data (check names, goods codes), printed as they are."""


def json_ready(value: Any) -> Any:
    """A value as the tool prints it in JSON: camelCase keys, ISO times, amounts twice."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    if isinstance(value, DataKeys):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, Mapping):
        return _with_amounts({camel(str(k)): json_ready(v) for k, v in value.items()})
    if isinstance(value, list | tuple | set | frozenset):
        return [json_ready(v) for v in value]
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.days
    return value


def _with_amounts(fields: dict[str, Any]) -> dict[str, Any]:
    """Every ``…Minor`` integer gets its ``…Hkd`` decimal string, every ``…E4`` its exact one."""
    extra: dict[str, Any] = {}
    for key, value in fields.items():
        if not isinstance(value, int) or isinstance(value, bool):
            continue
        if key.endswith("Minor"):
            extra.setdefault(key.removesuffix("Minor") + "Hkd", format_minor_hkd(value))
    for key, value in fields.items():
        if isinstance(value, int) and not isinstance(value, bool) and key.endswith("E4"):
            base = key.removesuffix("E4")
            if base + "Hkd" not in fields and base + "ExactHkd" not in fields:
                extra.setdefault(base + "Hkd", format_e4_hkd(value))
    return {**fields, **{k: v for k, v in extra.items() if k not in fields}}


def print_json(value: Any) -> None:
    """Print one JSON document on stdout, in the tool's conventions."""
    typer.echo(json.dumps(json_ready(value), indent=2, ensure_ascii=False))


# -- errors and exit statuses -------------------------------------------------------------


def report_error(
    message: str, status: Exit, *, as_json: bool, result: Mapping[str, Any] | None = None
) -> int:
    """``error: …`` on stderr; with ``--json`` also ``{"error": {…}}`` on stdout."""
    message = " ".join(message.split())
    if as_json:
        error = {"code": status.name, "exitStatus": int(status), "message": message}
        document = {**json_ready(dict(result or {})), "error": error}
        typer.echo(json.dumps(document, indent=2, ensure_ascii=False))
    typer.echo(f"error: {message}", err=True)
    return int(status)


def _usage_message(exc: clicklib.UsageError) -> str:
    message = exc.format_message().rstrip(".")
    if exc.ctx is not None:
        message += f" (see '{exc.ctx.command_path} --help')"
    return message


class RootGroup(TyperGroup):
    """The ``asap-sync`` group: turns every error into the contract's one line and status.

    ``defaults``, when set, gives click's ``default_map`` (settings from a file) per run.
    """

    defaults: Callable[[], dict[str, Any]] | None = None

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        status = self._run(argv, prog_name, complete_var, **extra)
        if standalone_mode:
            sys.exit(status)
        return status

    def _run(self, argv: list[str], prog_name: str | None, complete_var: Any, **extra: Any) -> int:
        as_json = "--json" in argv
        try:
            if self.defaults is not None and "default_map" not in extra:
                extra["default_map"] = self.defaults()
            result = super().main(
                args=argv,
                prog_name=prog_name,
                complete_var=complete_var,
                standalone_mode=False,
                **extra,
            )
        except CliError as exc:
            return report_error(exc.message, exc.status, as_json=as_json, result=exc.result)
        except clicklib.NoArgsIsHelpError as exc:
            typer.echo(exc.ctx.get_help() if exc.ctx else exc.format_message())
            return int(Exit.OK)
        except clicklib.UsageError as exc:
            return report_error(_usage_message(exc), Exit.USAGE, as_json=as_json)
        except clicklib.ClickException as exc:  # e.g. a file click could not open
            return report_error(exc.format_message(), Exit.USAGE, as_json=as_json)
        except typer.Abort:
            return report_error("interrupted", Exit.INTERRUPTED, as_json=as_json)
        return result if isinstance(result, int) else int(Exit.OK)


def plural(count: int, word: str, words: str | None = None) -> str:
    """``1 statement``, ``2 statements``, ``0 statements``."""
    return f"{count} {word if count == 1 else (words or word + 's')}"


def checked_base_url(url: str, option: str = "--base-url") -> str:
    """A server's base URL, checked before any work: http(s), a host, no path, no query."""
    parsed = urlsplit(url.strip())
    example = "http://127.0.0.1:8080 or https://asap.example.com"
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        bad_input(f"{option} {url!r} needs a scheme and a host, e.g. {example}")
    if parsed.path not in ("", "/") or parsed.query or parsed.fragment:
        base = f"{parsed.scheme}://{parsed.netloc}"
        bad_input(f"{option} {url!r} has a path: give the server's base URL only, e.g. {base}")
    try:
        parsed.port  # noqa: B018 - validates the port
    except ValueError as exc:
        bad_input(f"{option} {url!r}: {exc}")
    return f"{parsed.scheme}://{parsed.netloc}"
