"""Cross-cutting HTTP concerns: body limit and deadline, JSON-only API, rate limit, allowed
hosts, CORS, headers, HEAD, logs and metrics (499 for requests the client abandoned).

Pure ASGI middleware, so the body is counted as it streams in and never buffered twice.
Order, outermost first:

    HeadersAndLog -> AllowedHosts (if configured) -> CORS (if configured) -> RateLimit
        -> Guard -> app

so every response, including a 413 or a 429, carries the security headers (and the CORS
headers a browser needs to read it), and every request gets one access-log line.

The access log carries method, route template (a fixed "/other" for unknown paths), status
and latency: never a body, a query string, a header or the raw path.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import ClientDisconnect
from starlette.routing import Match, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import __version__, metrics
from .config import Settings
from .ratelimit import ClientKey, Limiter, RateLimitMiddleware, make_limiter

access_log = logging.getLogger("signpost.access")

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), interest-cohort=()"),
]
PAGE_CSP = (
    b"default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; "
    b"script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'; "
    b"object-src 'none'"
)
API_CSP = b"default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# FastAPI's Swagger UI loads its script and style from a CDN and uses inline script; this
# relaxed policy applies to /docs and /redoc only (developer pages, never shown to users).
DOCS_CSP = (
    b"default-src 'self'; script-src 'self' https://cdn.jsdelivr.net 'unsafe-inline'; "
    b"style-src 'self' https://cdn.jsdelivr.net 'unsafe-inline'; img-src 'self' data: "
    b"https://fastapi.tiangolo.com; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
NO_STORE = (b"cache-control", b"no-store")
UNKNOWN_ROUTE = "/other"
# Methods logged and counted by name; anything a client invents is "OTHER".
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_DROP_HEADERS = (b"set-cookie", b"server")
CLOSE = (b"connection", b"close")
# nginx's code for "client closed request": the client left before it was answered.
CLIENT_CLOSED = 499
_UNTIMED = frozenset({408, CLIENT_CLOSED})
# Always answered, whatever the Host header (load balancers and kubelet probe by address).
OPS_PATHS = frozenset({"/healthz", "/readyz"})
UNREADABLE_BODY = (
    'the body is not valid JSON: send UTF-8 JSON like {"message": "..."}, not nested too deeply'
)


async def _send_json(send: Send, status: int, detail: str, extra: list | None = None) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send(
        {"type": "http.response.start", "status": status, "headers": headers + (extra or [])}
    )
    await send({"type": "http.response.body", "body": body})


class GuardMiddleware:
    """413 for bodies over the limit; 415 for an /api/ body that is not JSON; 408 (and the
    connection closed) for a body that has not arrived within `body_timeout` seconds.

    The body (at most `max_body` bytes) is read here and handed on whole, so the limit also
    holds for chunked uploads without a Content-Length, whatever the framework does later.
    """

    def __init__(self, app: ASGIApp, max_body: int, body_timeout: float = 10.0) -> None:
        self.app = app
        self.max_body = max_body
        self.body_timeout = body_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        length = headers.get(b"content-length")
        if length is not None:
            try:
                too_big = int(length) > self.max_body
            except ValueError:
                await _send_json(send, 400, "invalid Content-Length header")
                return
            if too_big:
                await _send_json(send, 413, f"request body larger than {self.max_body} bytes")
                return
        ctype = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if scope["path"].startswith("/api/") and ctype != b"application/json":
            await _send_json(send, 415, "send the request body as application/json")
            return

        chunks: list[bytes] = []
        size = 0
        try:
            # uvicorn has no deadline for a body: a client trickling one byte at a time
            # would hold the request (and its connection) for ever.
            async with asyncio.timeout(self.body_timeout):
                while True:
                    message = await receive()
                    if message["type"] != "http.request":
                        return  # the client went away: nobody to answer (logged as 499)
                    chunk = message.get("body", b"")
                    size += len(chunk)
                    if size > self.max_body:
                        detail = f"request body larger than {self.max_body} bytes"
                        await _send_json(send, 413, detail)
                        return
                    chunks.append(chunk)
                    if not message.get("more_body", False):
                        break
        except TimeoutError:
            metrics.SLOW_CLIENTS.labels("body").inc()
            detail = f"the request body did not arrive within {self.body_timeout:g} seconds"
            await _send_json(send, 408, detail, [CLOSE])
            return
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def route_template(app: FastAPI, scope: Scope) -> str:
    """The route a request matched, as written in the code ("/widget/{path}"), or "/other"."""
    for route in app.router.routes:
        try:
            match, _ = route.matches(scope)
        except Exception:  # a malformed path must never break logging
            return UNKNOWN_ROUTE
        if match is not Match.NONE:
            path = getattr(route, "path", "")
            if isinstance(route, Mount):
                return f"{path}/{{path}}"
            return path or UNKNOWN_ROUTE
    return UNKNOWN_ROUTE


class _RouteNames:
    """route_template with a cache for the app's fixed paths (a bounded set: only paths that
    are themselves a route without parameters are cached, never what a client makes up)."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.cache: dict[str, str] = {}

    def __call__(self, scope: Scope) -> str:
        path = scope.get("path", "")
        hit = self.cache.get(path)
        if hit is not None:
            return hit
        name = route_template(self.app, scope)
        if name == path and "{" not in name and len(self.cache) < 256:
            self.cache[path] = name
        return name


def _relative(location: bytes) -> bytes:
    """A redirect to this site as a path: Starlette builds absolute ones from the request's
    Host header, which a client chooses (`Host: evil.example` would be sent back)."""
    parts = urlsplit(location.decode("latin-1"))
    path = parts.path or "/"
    if path.startswith("//"):  # "//evil.example/" is another site to a browser
        path = "/" + path.lstrip("/")
    return (path + (f"?{parts.query}" if parts.query else "")).encode("latin-1")


class HeadersAndLogMiddleware:
    """Security headers on every response, metrics, and an access log line with no content.

    Also: HEAD is answered wherever GET is (as GET, without the body; FastAPI routes are GET
    only), redirects carry a path and never the client's Host, and a request the client
    abandoned before it was answered is logged and counted as 499, never as a 500.
    """

    def __init__(self, app: ASGIApp, fastapi_app: FastAPI) -> None:
        self.app = app
        self.route_name = _RouteNames(fastapi_app)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        path: str = scope["path"]
        method = scope["method"] if scope["method"] in _METHODS else "OTHER"
        head = method == "HEAD"
        if head:
            scope = {**scope, "method": "GET"}
        status = 0  # no response started yet
        gone = False
        # Before the app runs: routing rewrites the scope (root_path) for mounted apps.
        route = self.route_name(scope)

        async def watched() -> Message:
            nonlocal gone
            message = await receive()
            if message["type"] == "http.disconnect":
                gone = True
            return message

        async def wrapped(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": self._headers(path, message)}
            elif head and message.get("body"):
                message = {**message, "body": b""}
            await send(message)

        try:
            await self.app(scope, watched, wrapped)
        except ClientDisconnect:
            gone = True  # the framework noticed first: nothing to answer, nothing to log
        finally:
            if not status:
                status = CLIENT_CLOSED if gone else 500
            self._record(method, route, status, time.perf_counter() - start)

    @staticmethod
    def _headers(path: str, message: Message) -> list[tuple[bytes, bytes]]:
        headers = [
            (k, _relative(v) if k.lower() == b"location" else v)
            for k, v in message.get("headers", [])
            if k.lower() not in _DROP_HEADERS
        ]
        headers += SECURITY_HEADERS
        if path.startswith(("/docs", "/redoc")):
            headers.append((b"content-security-policy", DOCS_CSP))
        elif path == "/" or path.endswith(".html"):
            headers.append((b"content-security-policy", PAGE_CSP))
        else:
            headers.append((b"content-security-policy", API_CSP))
        if path.startswith("/api/"):
            headers.append(NO_STORE)
        return headers

    @staticmethod
    def _record(method: str, route: str, status: int, seconds: float) -> None:
        metrics.HTTP_REQUESTS.labels(method, route, str(status)).inc()
        if status not in _UNTIMED:  # time the client made us wait is not our latency
            metrics.HTTP_LATENCY.labels(route).observe(seconds)
        ms = round(seconds * 1000, 1)
        access_log.info(
            "%s %s %d %.1fms",
            method,
            route,
            status,
            ms,
            extra={"fields": {"method": method, "route": route, "status": status, "ms": ms}},
        )


class AllowedHostsMiddleware:
    """Starlette's TrustedHostMiddleware (400 for another Host) for everything but the health
    checks, which load balancers and kubelet send to the pod's address."""

    def __init__(self, app: ASGIApp, hosts: tuple[str, ...]) -> None:
        self.app = app
        self.checked = TrustedHostMiddleware(app, allowed_hosts=list(hosts), www_redirect=False)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] in OPS_PATHS:
            await self.app(scope, receive, send)
        else:
            await self.checked(scope, receive, send)


def _rate_limit_detail(app: FastAPI) -> str:
    text = "You have sent a lot of messages very quickly. Please wait a moment and try again."
    engine = getattr(app.state, "engine", None)
    helplines = getattr(getattr(engine, "kb", None), "helplines", {}) or {}
    childline, emergency = helplines.get("childline"), helplines.get("emergency")
    if childline is not None and childline.phone:
        text += f" If you need to talk to someone now, call {childline.name} on {childline.phone}."
    if emergency is not None and emergency.phone:
        text += f" If you are in danger, call {emergency.phone}."
    return text


def _close_on_shutdown(app: FastAPI, limiter: Limiter) -> None:
    """Close the limiter's connections when the app stops (wraps the existing lifespan)."""
    inner = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(a: Any) -> AsyncIterator[Any]:
        async with inner(a) as state:
            yield state
        await limiter.close()

    app.router.lifespan_context = lifespan


async def _http_error(request: Request, exc: Exception) -> Response:
    """FastAPI answers a body it cannot parse (not UTF-8, nested too deep, a number too long
    to read) with a bare 400; on the API that is one more kind of invalid JSON: a clear 422."""
    if (
        isinstance(exc, StarletteHTTPException)
        and exc.status_code == 400
        and request.url.path.startswith("/api/")
    ):
        return JSONResponse({"detail": UNREADABLE_BODY}, status_code=422)
    return await http_exception_handler(request, exc)  # type: ignore[arg-type]


def install_middleware(app: FastAPI, settings: Settings) -> None:
    """Add the middleware stack (see the module docstring), /metrics and one error handler."""
    app.add_exception_handler(StarletteHTTPException, _http_error)
    # The last added runs first.
    app.add_middleware(
        GuardMiddleware, max_body=settings.max_body_bytes, body_timeout=settings.body_timeout
    )
    limiter = make_limiter(settings)
    app.state.rate_limiter = limiter
    if limiter is not None:
        app.add_middleware(
            RateLimitMiddleware,
            limiter=limiter,
            key=ClientKey(
                settings.trusted_proxy_header,
                settings.trusted_proxy_hops,
                settings.trusted_proxy_networks,
            ),
            detail=_rate_limit_detail(app),
        )
        _close_on_shutdown(app, limiter)
    origins = settings.cors_origin_list
    if origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(origins),
            allow_methods=["GET", "POST"],
            allow_headers=["content-type"],
            allow_credentials=False,
            expose_headers=["retry-after"],
            max_age=600,
        )
    if settings.allowed_host_list:
        app.add_middleware(AllowedHostsMiddleware, hosts=settings.allowed_host_list)
    app.add_middleware(HeadersAndLogMiddleware, fastapi_app=app)

    if settings.metrics_enabled:
        metrics.BUILD_INFO.labels(__version__).set(1)
    if settings.metrics_enabled and settings.metrics_public:

        @app.get("/metrics", include_in_schema=False)
        def prometheus_metrics() -> Response:
            return Response(metrics.render(), media_type=metrics.CONTENT_TYPE)
