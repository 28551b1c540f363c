"""The admin listener's ASGI app: the console under ``/console/`` and ``/metrics`` beside it."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, tzinfo
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from asap_sync.console import pages_admin, pages_approvals, pages_ledger, pages_settlement
from asap_sync.console.auth import COOKIE, LoginThrottle, SessionCodec, csrf_ok
from asap_sync.console.web import (
    LOGIN_COOKIE,
    STATIC,
    Console,
    guarded,
    make_templates,
    new_login_token,
)
from asap_sync.service.admin_ports import AdminSessions
from asap_sync.service.close_preview import PreviewJobs
from asap_sync.service.operator_ports import OperatorSessions, Role
from asap_sync.service.operators import authenticate
from asap_sync.storage.console_summaries import DaySummaries

log = logging.getLogger("asap_sync.console")

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}

Page = tuple[str, Any, Role, list[str]]


class _SecurityHeaders(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response


def create_console_app(
    *,
    engine: Engine,
    admin: AdminSessions,
    operators: OperatorSessions,
    clock: Callable[[], datetime],
    zone: tzinfo,
    session_key: bytes | None = None,
    metrics: Any | None = None,
) -> Starlette:
    """The admin app; ``session_key`` signs cookies (random per process unless given);
    ``metrics``, an ASGI app serving the Prometheus text format, is mounted at ``/metrics``."""
    console = Console(
        engine=engine,
        admin=admin,
        operators=operators,
        codec=SessionCodec(session_key or os.urandom(32)),
        throttle=LoginThrottle(clock),
        templates=make_templates(zone),
        clock=clock,
        zone=zone,
        previews=PreviewJobs(time.monotonic),
    )
    pages: list[Page] = [
        *pages_ledger.PAGES,
        *pages_settlement.PAGES,
        *pages_admin.PAGES,
        *pages_approvals.PAGES,
    ]
    routes: list[BaseRoute] = [
        Route("/", lambda _r: RedirectResponse("/console/", status_code=307)),
        Route("/console", lambda _r: RedirectResponse("/console/", status_code=307)),
        Route("/console/login", _login_page(console), methods=["GET"]),
        Route("/console/login", _login(console), methods=["POST"]),
        Route("/console/logout", _logout(console), methods=["POST"]),
        Mount("/console/static", app=StaticFiles(directory=str(STATIC)), name="static"),
        *(
            Route("/console" + path, guarded(console, handler, role), methods=methods)
            for path, handler, role, methods in pages
        ),
    ]
    if metrics is not None:
        # An instance, not a function: Starlette then hands it the raw ASGI call.
        routes.append(Route("/metrics", _Asgi(metrics), methods=["GET"]))
    return Starlette(
        routes=routes,
        middleware=[Middleware(_SecurityHeaders)],
        lifespan=_summaries_warmed(engine, clock),
    )


def _summaries_warmed(engine: Engine, clock: Callable[[], datetime]) -> Any:
    """A lifespan that fills the day summaries in the background as the listener starts, so
    that the first visit to the overview or the periods does not pay for every past day."""

    def fill() -> None:
        try:
            DaySummaries(engine).ensure_all(clock())
        except Exception:  # the pages count what is missing live, and summarize it later
            log.exception("could not summarize the past days at start")

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        threading.Thread(target=fill, name="console-summaries", daemon=True).start()
        yield

    return lifespan


class _Asgi:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


def _login_page(console: Console) -> Any:
    async def page(request: Request) -> Response:
        token = request.cookies.get(LOGIN_COOKIE) or new_login_token()
        response = console.templates.TemplateResponse(
            request,
            "login.html",
            {
                "login_token": token,
                "next": request.query_params.get("next", "/console/"),
                "error": request.query_params.get("error", ""),
            },
        )
        response.set_cookie(
            LOGIN_COOKIE,
            token,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/console",
        )
        return response

    return page


def _login(console: Console) -> Any:
    async def login(request: Request) -> Response:
        form = await request.form()
        name, password = str(form.get("name", "")).strip(), str(form.get("password", ""))
        target = str(form.get("next", "/console/"))
        target = target if target.startswith("/console/") else "/console/"
        cookie_token = request.cookies.get(LOGIN_COOKIE, "")
        if not csrf_ok(cookie_token, str(form.get("csrf", ""))):
            return _login_again(target, "The login form expired: please try again.", 403)
        keys = (f"name:{name}", f"address:{request.client.host if request.client else '-'}")
        wait = console.throttle.retry_after(*keys)
        if wait is not None:
            minutes = int(wait.total_seconds() // 60) + 1
            message = f"Too many failed logins: try again in {minutes} minute(s)."
            return _login_again(target, message, 429)
        operator = await run_in_threadpool(authenticate, console.operators, name, password)
        if operator is None:
            console.throttle.failed(*keys)
            return _login_again(target, "Wrong name or password, or the account is disabled.")
        console.throttle.succeeded(keys[0])
        _session, value = console.codec.issue(operator.name, operator.session_epoch)
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(
            COOKIE,
            value,
            max_age=int(console.codec.max_age.total_seconds()),
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/console",
        )
        response.delete_cookie(LOGIN_COOKIE, path="/console")
        return response

    return login


def _login_again(target: str, message: str, status: int = 303) -> Response:
    query = urlencode({"next": target, "error": message})
    response = RedirectResponse(f"/console/login?{query}", status_code=303)
    if status != 303:
        response.headers["X-Login-Refused"] = str(status)
    return response


def _logout(console: Console) -> Any:
    async def logout(request: Request) -> Response:
        session = console.codec.read(request.cookies.get(COOKIE))
        form = await request.form()
        token = form.get("csrf")
        given = token if isinstance(token, str) else None
        if session is not None and not csrf_ok(session.csrf, given):
            return Response("This form has no valid CSRF token.", status_code=403)
        response = RedirectResponse("/console/login", status_code=303)
        response.delete_cookie(COOKIE, path="/console")
        return response

    return logout
