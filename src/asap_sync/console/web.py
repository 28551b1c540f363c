"""The console's plumbing: who is asking (session, role, CSRF), templates, and the error table."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.templating import Jinja2Templates

from asap_sync.console.auth import COOKIE, ConsoleSession, LoginThrottle, SessionCodec, csrf_ok
from asap_sync.domain.money import format_e4_hkd, format_minor_hkd
from asap_sync.domain.settlement import SettlementRefused
from asap_sync.service.admin_ports import AdminError, AdminSessions
from asap_sync.service.close_preview import PreviewJobs
from asap_sync.service.exports import StatementNotFound
from asap_sync.service.operator_ports import Actor, OperatorRecord, OperatorSessions, Role
from asap_sync.service.operators import find_operator

TEMPLATES = Path(__file__).with_name("templates")
STATIC = Path(__file__).with_name("static")
LOGIN_COOKIE = "asap_console_login"

# One table: what an operator can get wrong, and the status the console answers it with.
ERROR_STATUS: Mapping[type[Exception], int] = {
    AdminError: 400,
    SettlementRefused: 409,
    StatementNotFound: 404,
}


@dataclass(frozen=True, kw_only=True)
class Console:
    """What every page needs: the database, the use cases' sessions, the clock, the zone."""

    engine: Engine
    admin: AdminSessions
    operators: OperatorSessions
    codec: SessionCodec
    throttle: LoginThrottle
    templates: Jinja2Templates
    clock: Callable[[], datetime]
    zone: tzinfo
    previews: PreviewJobs


@dataclass(frozen=True, kw_only=True)
class Ask:
    """One request of a logged-in operator, with its form (empty for a GET)."""

    request: Request
    console: Console
    operator: OperatorRecord
    session: ConsoleSession
    form: FormData

    def actor(self) -> Actor:
        """This operator as the activity log names changes made from the console."""
        return Actor(name=self.operator.name, source="console", at=self.console.clock())

    def admin(self) -> AdminSessions:
        """The use cases' sessions, logging every change under this operator."""
        return self.console.admin.acting(self.actor())

    def field(self, name: str) -> str:
        """A form field, stripped; empty when absent."""
        value = self.form.get(name)
        return value.strip() if isinstance(value, str) else ""

    def query(self, name: str) -> str:
        """A query parameter, stripped; empty when absent."""
        return self.request.query_params.get(name, "").strip()

    def render(self, template: str, status_code: int = 200, **context: Any) -> Response:
        """A page, with what the layout needs (who, CSRF token, messages)."""
        return self.console.templates.TemplateResponse(
            self.request,
            template,
            {
                "operator": self.operator,
                "csrf": self.session.csrf,
                "notice": self.query("notice"),
                "error": self.query("error"),
                "Role": Role,
                **context,
            },
            status_code=status_code,
        )


Handler = Callable[[Ask], Response]


def back(path: str, **params: str) -> RedirectResponse:
    """After a form: see the page again, with a notice or an error (POST, redirect, GET)."""
    query = urlencode({k: v for k, v in params.items() if v})
    return RedirectResponse(f"{path}?{query}" if query else path, status_code=303)


def make_templates(zone: tzinfo) -> Jinja2Templates:
    """The console's templates, with filters for money and times in the platform's zone."""
    templates = Jinja2Templates(directory=str(TEMPLATES))
    env = templates.env
    env.autoescape = True
    env.filters["hkd"] = format_minor_hkd
    env.filters["hkd_e4"] = format_e4_hkd
    env.filters["when"] = lambda moment: (
        "-" if moment is None else moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")
    )
    env.globals["zone"] = str(zone)
    return templates


def guarded(
    console: Console, handler: Handler, role: Role
) -> Callable[[Request], Awaitable[Response]]:
    """The endpoint of a page: a live session, the role it needs, a CSRF token on every POST."""

    async def endpoint(request: Request) -> Response:
        session = console.codec.read(request.cookies.get(COOKIE))
        if session is None:
            return RedirectResponse(
                "/console/login?" + urlencode({"next": request.url.path}), status_code=303
            )
        form = FormData()
        if request.method == "POST":
            form = await request.form()
            token = form.get("csrf") or request.headers.get("x-csrf-token")
            if not csrf_ok(session.csrf, token if isinstance(token, str) else None):
                return _plain(403, "This form has no valid CSRF token: reload the page and retry.")
        operator = await run_in_threadpool(find_operator, console.operators, session.name)
        if (
            operator is None
            or operator.status != "active"
            or operator.session_epoch != session.epoch
        ):
            response = RedirectResponse("/console/login", status_code=303)
            response.delete_cookie(COOKIE, path="/console")
            return response
        ask = Ask(request=request, console=console, operator=operator, session=session, form=form)
        if not operator.role.allows(role):
            return ask.render(
                "refused.html", status_code=403, needed=role.value, what=request.url.path
            )
        return await run_in_threadpool(_answer, handler, ask)

    return endpoint


def _answer(handler: Handler, ask: Ask) -> Response:
    try:
        response = handler(ask)
    except tuple(ERROR_STATUS) as exc:
        status = next(s for kind, s in ERROR_STATUS.items() if isinstance(exc, kind))
        if ask.request.method == "POST":
            referer = ask.request.headers.get("referer", "")
            path = referer.split("?")[0] if "/console/" in referer else ask.request.url.path
            return back(_local(path), error=str(exc))
        return ask.render("problem.html", status_code=status, message=str(exc))
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def _local(url: str) -> str:
    """Only a path of this console, never another site (open redirects)."""
    path = url[url.find("/console/") :] if "/console/" in url else "/console/"
    return path if path.startswith("/console/") else "/console/"


def _plain(status: int, message: str) -> Response:
    return HTMLResponse(
        f"<!doctype html><title>Refused</title><p>{message}</p>", status_code=status
    )


def new_login_token() -> str:
    """The double-submit token of the login form (there is no session before it)."""
    return secrets.token_urlsafe(24)
